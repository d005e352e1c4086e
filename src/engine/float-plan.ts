/** The graph compiled for arq's native fp32 executor (the op list of graph/lower.ts). */
import type { Graph } from '../graph/ir.js';
import { floatPlanSpec } from '../graph/lower.js';
import { addon, withStack, type FloatPlanSpec, type NativeFloatPlan } from '../native.js';
import { NativePlan, planMaxMemory, type PlanOptions } from './native-plan.js';

/** The graph compiled for the native fp32 executor. */
export class FloatPlan extends NativePlan<NativeFloatPlan> {
  static build(graph: Graph, options: PlanOptions = {}): FloatPlan {
    return FloatPlan.fromSpec(floatPlanSpec(graph), options);
  }

  /** The plan of a graph already lowered (calibration keeps the lowering's numbering with the statistics it records). */
  static fromSpec(spec: FloatPlanSpec, options: PlanOptions = {}): FloatPlan {
    const Native = addon().FloatPlan;
    return new FloatPlan(new Native({ ...spec, maxMemory: planMaxMemory(options) }));
  }

  /**
   * Estimated bytes of a run of `batch` images on `threads` threads, or with bins > 0 of a histogram pass; throws a
   * RangeError naming the largest item when over the plan's maxMemory. Every call checks this itself; callers use it
   * to fail before earlier, cheaper passes.
   */
  checkMemory(batch: number, threads: number, bins = 0): number {
    return this.native.checkMemory(batch, threads, bins);
  }

  /** [min, max] per plan value over `batch` images (calibration); rejects naming the first value holding NaN or infinity. */
  observeRanges(images: Float32Array, batch: number, threads: number): Promise<Float32Array> {
    return withStack(() => this.native.observeRanges(images, batch, threads));
  }

  /** Histograms of `bins` equal bins over `ranges`, one per plan value (calibration); rejects as observeRanges. */
  observeHistograms(images: Float32Array, batch: number, threads: number, ranges: Float32Array, bins: number): Promise<Float64Array> {
    return withStack(() => this.native.observeHistograms(images, batch, threads, ranges, bins));
  }
}
