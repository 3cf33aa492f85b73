// Adadelta as Keras, TensorFlow and PyTorch define it. tfjs-core's AdadeltaOptimizer divides by the
// squared-gradient accumulator before updating it, so its first step is a plain lr·g step; with
// Keras's lr 1.0 that first step wrecks the CNN of the Keras recipe (loss stalls at 2.30).
import * as tf from '@tensorflow/tfjs';
// The optimizer API speaks NamedTensor, which tfjs exports only from this path.
import type { NamedTensor } from '@tensorflow/tfjs-core/dist/tensor_types';

export interface AdadeltaConfig {
  learningRate: number;
  rho: number;
  epsilon: number;
}

/** Keras defaults, as the Keras recipe uses them. */
export const KERAS_ADADELTA: AdadeltaConfig = { learningRate: 1.0, rho: 0.95, epsilon: 1e-7 };

export interface Accumulators {
  squaredGrad: Float32Array;
  squaredUpdate: Float32Array;
}

/**
 * For each weight w with gradient g:
 *   E[g²] ← ρ·E[g²] + (1−ρ)·g²
 *   Δ     ← g · √(E[Δ²] + ε) / √(E[g²] + ε)      (with the *updated* E[g²])
 *   E[Δ²] ← ρ·E[Δ²] + (1−ρ)·Δ²
 *   w     ← w − lr·Δ
 * in one pass over plain arrays, in place: the trainer keeps its weights in (shared) memory, and
 * twelve tfjs ops per weight cost 10× more than this loop.
 */
export function adadeltaStep(config: AdadeltaConfig, w: Float32Array, g: Float32Array, acc: Accumulators): void {
  const { learningRate, rho, epsilon } = config;
  const { squaredGrad, squaredUpdate } = acc;
  const decay = 1 - rho;
  for (let i = 0; i < w.length; i++) {
    const gi = g[i];
    const eg = rho * squaredGrad[i] + decay * gi * gi;
    const update = (gi * Math.sqrt(squaredUpdate[i] + epsilon)) / Math.sqrt(eg + epsilon);
    squaredGrad[i] = eg;
    squaredUpdate[i] = rho * squaredUpdate[i] + decay * update * update;
    w[i] -= learningRate * update;
  }
}

export interface AdamConfig {
  learningRate: number;
  beta1: number;
  beta2: number;
  epsilon: number;
}

/** tfjs's defaults (tf.train.adam), which fine-tuning used before it ran on the replica group. */
export const ADAM_DEFAULTS: Omit<AdamConfig, 'learningRate'> = { beta1: 0.9, beta2: 0.999, epsilon: 1e-7 };

/**
 * Step `t` (1-based) of Adam as Kingma and Ba define it and tfjs computes it, in place over plain
 * arrays (the fine-tune's weights live in the replica group's shared memory):
 *   m ← β₁m + (1−β₁)g,  v ← β₂v + (1−β₂)g²,  w ← w − lr · (m / (1−β₁ᵗ)) / (√(v / (1−β₂ᵗ)) + ε)
 */
export function adamStep(
  config: AdamConfig,
  t: number,
  w: Float32Array,
  g: Float32Array,
  moments: { m: Float32Array; v: Float32Array },
): void {
  const { learningRate, beta1, beta2, epsilon } = config;
  const { m, v } = moments;
  const m1 = 1 - beta1 ** t;
  const v1 = 1 - beta2 ** t;
  for (let i = 0; i < w.length; i++) {
    const gi = g[i];
    m[i] = beta1 * m[i] + (1 - beta1) * gi;
    v[i] = beta2 * v[i] + (1 - beta2) * gi * gi;
    w[i] -= (learningRate * (m[i] / m1)) / (Math.sqrt(v[i] / v1) + epsilon);
  }
}

export class KerasAdadelta extends tf.Optimizer {
  static className = 'KerasAdadelta';
  private readonly accumulators = new Map<string, Accumulators>();

  constructor(readonly config: AdadeltaConfig = KERAS_ADADELTA) {
    super();
  }

  /** The tfjs interface (model.fit, tests): reads each variable, steps it, writes it back. */
  override applyGradients(variableGradients: tf.NamedTensorMap | NamedTensor[]): void {
    const named = Array.isArray(variableGradients)
      ? variableGradients
      : Object.entries(variableGradients).map(([name, tensor]) => ({ name, tensor }));
    for (const { name, tensor: gradient } of named) {
      if (gradient == null) continue;
      const variable = tf.engine().registeredVariables[name];
      const w = variable.dataSync() as Float32Array; // a copy
      adadeltaStep(this.config, w, gradient.dataSync() as Float32Array, this.accumulatorsFor(name, w.length));
      const updated = tf.tensor(w, variable.shape);
      variable.assign(updated);
      updated.dispose();
    }
    this.incrementIterations();
  }

  /**
   * The trainer's interface: its replica group applies the steps (adadeltaStep over ranges of flat
   * arrays, in several threads), so the accumulators move into `flat`, laid out as `layout`, and
   * the ones kept by name become views of it; values already held (a resumed run's) are carried over.
   */
  shareAccumulators(flat: Accumulators, layout: readonly { name: string; offset: number; size: number }[]): void {
    for (const { name, offset, size } of layout) {
      const view: Accumulators = {
        squaredGrad: flat.squaredGrad.subarray(offset, offset + size),
        squaredUpdate: flat.squaredUpdate.subarray(offset, offset + size),
      };
      const held = this.accumulators.get(name);
      view.squaredGrad.set(held?.squaredGrad ?? new Float32Array(size));
      view.squaredUpdate.set(held?.squaredUpdate ?? new Float32Array(size));
      this.accumulators.set(name, view);
    }
  }

  /** Counts a step applied through shared accumulators (see shareAccumulators). */
  countStep(): void {
    this.incrementIterations();
  }

  private accumulatorsFor(name: string, size: number): Accumulators {
    let acc = this.accumulators.get(name);
    if (!acc) {
      acc = { squaredGrad: new Float32Array(size), squaredUpdate: new Float32Array(size) };
      this.accumulators.set(name, acc);
    }
    return acc;
  }

  override dispose(): void {
    this.accumulators.clear();
    super.dispose();
  }

  override async getWeights(): Promise<NamedTensor[]> {
    const weights: NamedTensor[] = [];
    for (const [name, acc] of this.accumulators) {
      const shape = tf.engine().registeredVariables[name]?.shape ?? [acc.squaredGrad.length];
      weights.push({ name: `${name}/accum_grad`, tensor: tf.tensor(acc.squaredGrad, shape) });
      weights.push({ name: `${name}/accum_var`, tensor: tf.tensor(acc.squaredUpdate, shape) });
    }
    return [await this.saveIterations(), ...weights];
  }

  override async setWeights(weightValues: NamedTensor[]): Promise<void> {
    const rest = await this.extractIterations(weightValues);
    const byName = new Map(rest.map((w) => [w.name, w.tensor]));
    let restored = 0;
    for (const [name, variable] of Object.entries(tf.engine().registeredVariables)) {
      const grad = byName.get(`${name}/accum_grad`);
      const update = byName.get(`${name}/accum_var`);
      if (!grad || !update) continue;
      restored += 2;
      const acc = this.accumulatorsFor(name, variable.size);
      acc.squaredGrad.set(grad.dataSync() as Float32Array);
      acc.squaredUpdate.set(update.dataSync() as Float32Array);
    }
    // Accumulators are keyed by variable name; a silent mismatch would restart Adadelta from zero.
    if (restored !== byName.size) {
      throw new Error(
        `Optimizer state names ${byName.size} accumulators, of which only ${restored} match this model's weights`,
      );
    }
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...this.config };
  }

  static override fromConfig<T extends tf.serialization.Serializable>(
    cls: tf.serialization.SerializableConstructor<T>,
    config: tf.serialization.ConfigDict,
  ): T {
    return new cls({ ...KERAS_ADADELTA, ...config } as AdadeltaConfig);
  }
}

tf.serialization.registerClass(KerasAdadelta);
