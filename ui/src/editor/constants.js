// Shared constants of the editor's parts.

/** No problems reported by the server (the state after a successful save). */
export const NO_PROBLEMS = { banner: [], name: [], nodes: {}, edges: {} };

/** A canvas card's approximate size, for placing, centring and revealing nodes. */
export const NODE_W = 220;
export const NODE_H = 80;
