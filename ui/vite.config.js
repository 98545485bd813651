import { defineConfig } from 'vite';
import { mockApi } from './dev/mockApi.js';

// The Flask server serves dist/index.html at "/" and dist/assets/* at "/assets/*".
// `npm run dev` proxies /api to a running server (API_URL, default http://127.0.0.1:8080);
// `MOCK_API=1 npm run dev` answers /api from an in-memory mock instead (dev/mockApi.js).
const apiUrl = process.env.API_URL || 'http://127.0.0.1:8080';

export default defineConfig({
  base: '/',
  plugins: process.env.MOCK_API ? [mockApi()] : [],
  build: {
    outDir: 'dist',
    assetsDir: 'assets',
    emptyOutDir: true,
    chunkSizeWarningLimit: 1200,
    rolldownOptions: {
      // ECharts (only «Статистика» and «Обзор» load it) in a chunk of its own, named so, which
      // stays cached across releases of the app's code
      output: { codeSplitting: { groups: [{ name: 'echarts', test: /node_modules[\\/](echarts|zrender)[\\/]/ }] } },
      onwarn(warning, warn) {
        // rjsf marks its modules 'use client' for React Server Components; irrelevant in an SPA.
        if (warning.code === 'MODULE_LEVEL_DIRECTIVE') return;
        warn(warning);
      },
    },
  },
  server: {
    proxy: process.env.MOCK_API ? undefined : { '/api': apiUrl },
  },
  test: {
    environment: 'node',
    include: ['src/**/*.test.{js,jsx}'],
  },
});
