/**
 * hls.js ships its light build (no subtitles, alternate audio, DRM or content steering: the
 * broadcast uses none of them) without a declaration of its own; it has the full build's API.
 */
declare module "hls.js/light" {
  export * from "hls.js";
  export { default } from "hls.js";
}
