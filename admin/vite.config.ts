import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

// The admin UI: `vite` serves it during development on 127.0.0.1:3000 (the
// address `npm start` also uses for the built UI).
export default defineConfig({
  root: import.meta.dirname,
  plugins: [react()],
  server: { host: "127.0.0.1", port: 3000, strictPort: true },
  preview: { host: "127.0.0.1", port: 3000, strictPort: true },
  build: { outDir: "dist", emptyOutDir: true, sourcemap: false },
});
