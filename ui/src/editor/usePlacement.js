// Where a node added without the mouse goes, and panning so that it can be seen.
import { useReactFlow } from '@xyflow/react';
import { NODE_H, NODE_W } from './constants.js';

export function usePlacement(canvasRef) {
  const rf = useReactFlow();

  /** Where a node added without a drop point goes: under the selected node, or mid-screen. */
  const placeFor = (anchor, existing) => {
    let pos;
    if (anchor) pos = { x: anchor.position.x, y: anchor.position.y + 140 };
    else {
      const rect = canvasRef.current?.getBoundingClientRect();
      pos = rect
        ? rf.screenToFlowPosition({ x: rect.left + rect.width / 2 - NODE_W / 2, y: rect.top + rect.height / 3 })
        : { x: 0, y: 0 };
    }
    const busy = (p) => existing.some((n) => Math.abs(n.position.x - p.x) < NODE_W - 20 && Math.abs(n.position.y - p.y) < NODE_H);
    for (let i = 0; i < 20 && busy(pos); i += 1) pos = { x: pos.x + NODE_W + 40, y: pos.y };
    return pos;
  };

  /** Pans so that a node added without the mouse is in view. */
  const reveal = (node) => {
    const rect = canvasRef.current?.getBoundingClientRect();
    if (!rect) return;
    const { x, y, zoom } = rf.getViewport();
    const sx = node.position.x * zoom + x;
    const sy = node.position.y * zoom + y;
    if (sx >= 0 && sy >= 0 && sx + NODE_W * zoom <= rect.width && sy + NODE_H * zoom <= rect.height - 20) return;
    // Fit the whole diagram (not just the new node) so the rest of it stays in view too.
    setTimeout(() => rf.fitView({ padding: 0.15, maxZoom: Math.max(1, zoom), duration: 150 }), 60);
  };

  return { placeFor, reveal };
}
