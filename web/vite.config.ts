import { defineConfig } from "vitest/config";

// The API the dev server forwards to (`make dev` runs it on :8000). Only used by `npm run dev`;
// the built files call the API named in config.json, or their own origin.
const API = process.env.SPACES_API_URL ?? "http://127.0.0.1:8000";

export default defineConfig({
  // Relative asset URLs: the same build works at the API's `/`, at a CDN root, or under a prefix.
  base: "./",
  build: {
    outDir: "dist",
    emptyOutDir: true,
    target: "es2022",
    // livekit-client alone is ~570 kB minified (~150 kB gzipped); it loads only when a Space opens,
    // in a chunk of its own, so that our Space code beside it is cached apart from it.
    chunkSizeWarningLimit: 600,
    rollupOptions: {
      output: {
        manualChunks: (id: string) => (id.includes("/node_modules/livekit-client/") ? "livekit" : undefined),
      },
    },
  },
  test: {
    // Unit tests never reach the network (src/offline_fetch.test_setup.ts).
    setupFiles: ["src/offline_fetch.test_setup.ts"],
  },
  server: {
    proxy: Object.fromEntries(["/spaces", "/dev", "/healthz", "/avatars"].map((p) => [p, API])),
  },
});
