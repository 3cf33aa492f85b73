// Types for public/reduce.js (plain JS for the page, imported by Node tests and benchmarks).
export declare const WORK_SIDE: number;
export declare function reduceFactor(width: number, height: number, maxSide?: number): number;
export declare function reduceCanvas(
  rgba: ArrayLike<number>,
  width: number,
  height: number,
  maxSide?: number,
): { width: number; height: number; gray: Uint8Array; rgba: Uint8ClampedArray };
