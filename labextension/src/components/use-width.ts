/** The width of an element, followed with a ResizeObserver (the sidebar can be dragged wider). */
import * as React from 'react';

/** `ref`'s content width in px; `fallback` until it is first measured. */
export function useWidth(ref: React.RefObject<HTMLElement>, fallback: number): number {
  const [width, setWidth] = React.useState(fallback);
  React.useLayoutEffect(() => {
    const node = ref.current;
    if (node === null) {
      return;
    }
    const measure = () => setWidth(prev => (prev === node.clientWidth ? prev : node.clientWidth));
    measure();
    const observer = new ResizeObserver(measure);
    observer.observe(node);
    return () => observer.disconnect();
  }, [ref]);
  return width;
}
