// The names OCI layers give whiteouts, and the xattr overlayfs reads on an opaque directory
// of a lower layer. Shared by the unpacking (unpack.ts) and by the reading of an image's own
// files (fs/users.ts), which must not load the unpacker.

export const WHITEOUT_PREFIX = '.wh.';
export const OPAQUE_MARKER = '.wh..wh..opq';
export const OPAQUE_XATTR = 'trusted.overlay.opaque';
