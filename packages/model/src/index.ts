// Public surface of @pixelvla/model. Filled in by the model issue: prompt types and featurisation,
// COCO RLE, the openpi-layout msgpack codec and the ONNX prompt-encoder runner.
export const MODEL_PACKAGE_VERSION = '0.1.0';
