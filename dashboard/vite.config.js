// Builds the dashboard into dist/, served by the API at /dashboard under a CSP that allows no
// inline script or style: every script and stylesheet must be its own file, and nothing may be
// inlined as a data: URL script.
import { defineConfig } from 'vite';

export default defineConfig({
  root: import.meta.dirname,
  base: '/dashboard/',
  // Preact's JSX runtime, through Vite's own transformer (no extra plugin).
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // The polyfill would be injected as an inline <script>: modern browsers need none.
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
    cssCodeSplit: false,
    reportCompressedSize: false,
    target: 'es2022',
  },
});
