// Adadelta as Keras, TensorFlow and PyTorch define it. tfjs-core's AdadeltaOptimizer divides by the
// squared-gradient accumulator before updating it, so its first step is a plain lr·g step; with
// Keras's lr 1.0 that first step wrecks the seed CNN (loss stalls at 2.30).
import * as tf from '@tensorflow/tfjs';
// The optimizer API speaks NamedTensor, which tfjs exports only from this path.
import type { NamedTensor } from '@tensorflow/tfjs-core/dist/tensor_types';

export interface AdadeltaConfig {
  learningRate: number;
  rho: number;
  epsilon: number;
}

/** Keras defaults, as the seed uses them. */
export const KERAS_ADADELTA: AdadeltaConfig = { learningRate: 1.0, rho: 0.95, epsilon: 1e-7 };

interface Accumulators {
  squaredGrad: tf.Variable;
  squaredUpdate: tf.Variable;
}

/**
 * For each weight w with gradient g:
 *   E[g²] ← ρ·E[g²] + (1−ρ)·g²
 *   Δ     ← g · √(E[Δ²] + ε) / √(E[g²] + ε)      (with the *updated* E[g²])
 *   E[Δ²] ← ρ·E[Δ²] + (1−ρ)·Δ²
 *   w     ← w − lr·Δ
 */
export class KerasAdadelta extends tf.Optimizer {
  static className = 'KerasAdadelta';
  private readonly accumulators = new Map<string, Accumulators>();

  constructor(readonly config: AdadeltaConfig = KERAS_ADADELTA) {
    super();
  }

  override applyGradients(variableGradients: tf.NamedTensorMap | NamedTensor[]): void {
    const named = Array.isArray(variableGradients)
      ? variableGradients
      : Object.entries(variableGradients).map(([name, tensor]) => ({ name, tensor }));
    const { learningRate, rho, epsilon } = this.config;
    for (const { name, tensor: gradient } of named) {
      if (gradient == null) continue;
      const variable = tf.engine().registeredVariables[name];
      const acc = this.accumulatorsFor(name, variable);
      tf.tidy(() => {
        const squaredGrad = acc.squaredGrad.mul(rho).add(gradient.square().mul(1 - rho));
        const update = acc.squaredUpdate.add(epsilon).sqrt().div(squaredGrad.add(epsilon).sqrt()).mul(gradient);
        const squaredUpdate = acc.squaredUpdate.mul(rho).add(update.square().mul(1 - rho));
        acc.squaredGrad.assign(squaredGrad);
        acc.squaredUpdate.assign(squaredUpdate);
        variable.assign(variable.sub(update.mul(learningRate)));
      });
    }
    this.incrementIterations();
  }

  private accumulatorsFor(name: string, variable: tf.Variable): Accumulators {
    let acc = this.accumulators.get(name);
    if (!acc) {
      // Unnamed: variable names are global in tfjs, and two optimizers may track one weight.
      acc = {
        squaredGrad: tf.tidy(() => tf.variable(tf.zerosLike(variable), false)),
        squaredUpdate: tf.tidy(() => tf.variable(tf.zerosLike(variable), false)),
      };
      this.accumulators.set(name, acc);
    }
    return acc;
  }

  override dispose(): void {
    for (const acc of this.accumulators.values()) tf.dispose([acc.squaredGrad, acc.squaredUpdate]);
    this.accumulators.clear();
    super.dispose();
  }

  override async getWeights(): Promise<NamedTensor[]> {
    const weights: NamedTensor[] = [];
    for (const [name, acc] of this.accumulators) {
      weights.push({ name: `${name}/accum_grad`, tensor: acc.squaredGrad });
      weights.push({ name: `${name}/accum_var`, tensor: acc.squaredUpdate });
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
      this.accumulatorsFor(name, variable);
      const acc = this.accumulators.get(name)!;
      acc.squaredGrad.assign(grad);
      acc.squaredUpdate.assign(update);
    }
    // Accumulators are keyed by variable name; a silent mismatch would restart Adadelta from zero.
    if (restored !== byName.size) {
      throw new Error(`Optimizer state names ${byName.size} accumulators, of which only ${restored} match this model's weights`);
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
