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
