/** arq's public API for embedding in Node backends. Everything here is asynchronous where it does real work. */
export { ArqError } from './util/errors.js';
export { loadModel, modelFromBytes, type LoadedModel } from './model.js';
export type { Graph, Node, Shape, QuantizableNode } from './graph/ir.js';
export { layerCosts, totalCost, type LayerCost } from './graph/cost.js';
export { createClassifier, argmax, ENGINES, type Classifier, type ClassifierOptions, type EngineName } from './engine/classifier.js';
export { predictDataset, type PredictOptions, type PredictResult } from './engine/predict.js';
export { FloatPlan } from './engine/float-plan.js';
export { loadDataset, parseDataSpec, subset, selectEvery, readNpy, writeNpy, type Dataset, type Split, type DataSpec } from './data/index.js';
export { cpuInfo, type IsaName } from './native.js';
export { uniformPolicy, validatePolicy, loadPolicy, savePolicy, resolvePolicy, parseBits, type Policy, type LayerBits } from './quant/policy.js';
export { policyCost, type PolicyCost } from './quant/cost.js';
export { calibrate, type Calibration, type CalibrationOptions } from './quant/calibrate.js';
export { prepareQuantization, type Quantization, type QuantizationOptions } from './quant/quantize.js';
export { IntPlan, intPlanSpec } from './quant/int-plan.js';
export { exportQdq, exportQdqModel, QDQ_DIFFERENCES, type QdqOptions } from './onnx/qdq.js';
