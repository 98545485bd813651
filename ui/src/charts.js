// The charting library: Apache ECharts, imported piece by piece (echarts/core plus the line and
// bar charts, grid, tooltip and legend, the canvas renderer) so only what the charts use is bundled.
// Why ECharts: it draws on a canvas, so an hourly series of 90 days (2,160 points × 4 lines) stays
// smooth where an SVG chart would add thousands of DOM nodes; it is one well-kept Apache project
// with no further runtime dependency than its own renderer (zrender); and it needs no React
// wrapper: components/Chart.jsx owns one instance per element. Only the scenario's «Статистика»
// and «Обзор» import it (both lazily loaded), so the scenario list does not carry it.
import * as echarts from 'echarts/core';
import { BarChart, LineChart } from 'echarts/charts';
import { GridComponent, LegendPlainComponent, TooltipComponent } from 'echarts/components';
import { CanvasRenderer } from 'echarts/renderers';

echarts.use([LineChart, BarChart, GridComponent, LegendPlainComponent, TooltipComponent, CanvasRenderer]);

export { echarts };
