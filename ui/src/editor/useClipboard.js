// Ctrl+C / Ctrl+V and «Дублировать» of the selected nodes. The clipboard lives as long as the tab, so
// nodes can be pasted into another scenario; each paste of the same copy lands a step further.
import { useCallback, useState } from 'react';
import { copyPart, pasteClip } from './clipboard.js';

let clipboard = null;
let pastes = 0;

export function useClipboard({ nodes, edges, setNodes, setEdges, flowId, recordStep, onPasted }) {
  const [hasClip, setHasClip] = useState(Boolean(clipboard));

  const put = useCallback((clip, times) => {
    const next = pasteClip(nodes, edges, clip, times);
    recordStep();
    setNodes(next.nodes);
    setEdges(next.edges);
    onPasted?.(next.added);
  }, [nodes, edges, setNodes, setEdges, recordStep, onPasted]);

  const copy = useCallback(() => {
    const clip = copyPart(nodes, edges, flowId);
    if (!clip) return false;
    clipboard = clip;
    pastes = 0;
    setHasClip(true);
    return true;
  }, [nodes, edges, flowId]);

  const paste = useCallback(() => {
    if (!clipboard) return;
    pastes += 1;
    put(clipboard, pastes);
  }, [put]);

  const duplicate = useCallback(() => {
    const clip = copyPart(nodes, edges, flowId);
    if (clip) put(clip, 1);
  }, [nodes, edges, flowId, put]);

  const canDuplicate = nodes.some((n) => n.selected && !String(n.data.type).startsWith('event.'));
  return { copy, paste, duplicate, canPaste: hasClip, canDuplicate };
}
