// One ECharts chart in a <div>: created on mount, given each new option whole, resized with its
// box, disposed on unmount. The numbers it draws are also in the page as text (totals, tables):
// the canvas is an image with a summary as its accessible name.
import { useEffect, useRef } from 'react';
import { echarts } from '../charts.js';

export function Chart({ option, label, testId, height = 220 }) {
  const ref = useRef(null);
  const chart = useRef(null);

  useEffect(() => {
    const el = ref.current;
    const instance = echarts.init(el, null, { renderer: 'canvas' });
    chart.current = instance;
    // the browser tests read what is drawn (getOption()) from here: echarts.getInstanceByDom
    // is inside the bundle, out of a test's reach
    el.chart = instance;
    const observer = new ResizeObserver(() => instance.resize());
    observer.observe(el);
    return () => {
      observer.disconnect();
      delete el.chart;
      instance.dispose();
      chart.current = null;
    };
  }, []);

  useEffect(() => {
    chart.current?.setOption(option, { notMerge: true });
  }, [option]);

  return <div ref={ref} className="chart" style={{ height }} role="img" aria-label={label} data-testid={testId} />;
}
