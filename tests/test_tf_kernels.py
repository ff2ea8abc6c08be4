"""The TensorFlow kernels (avemo.training.tf_kernels) against Keras' own layers: the same outputs,
gradients and moving averages, with less kept for the backward pass."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from avemo.training import tf_kernels
from avemo.training.models import BatchNorm, ConvBlock, build_model


def test_the_kernels_return_the_biased_batch_statistics():
    """What the layers' moving averages average: the batch mean and the *biased* variance
    (TF's fused kernel returns the unbiased one), from both kernels."""
    rng = np.random.default_rng(1)
    x = rng.normal(3.0, 2.0, (5, 6, 6, 4)).astype("float32")
    ones, zeros = tf.ones(4), tf.zeros(4)
    y, mean, var = tf_kernels.batch_norm_train(tf.constant(x), ones, zeros, 1e-3)
    flat = x.reshape(-1, 4).astype(np.float64)
    np.testing.assert_allclose(mean.numpy(), flat.mean(0), rtol=1e-5)
    np.testing.assert_allclose(var.numpy(), flat.var(0), rtol=1e-4)  # ddof=0
    np.testing.assert_allclose(y.numpy(), (x - flat.mean(0)) / np.sqrt(flat.var(0) + 1e-3), rtol=1e-3, atol=1e-3)
    kernel = tf.constant(rng.normal(size=(3, 3, 4, 2)).astype("float32"))
    out, mean, var = tf_kernels.lean_conv_block(tf.constant(x), kernel, tf.ones(2), tf.zeros(2), 1e-3, slices=3)
    z = tf.nn.conv2d(x, kernel, 1, "SAME").numpy().reshape(-1, 2).astype(np.float64)
    np.testing.assert_allclose(var.numpy(), z.var(0), rtol=1e-4)
    assert out.shape == (5, 3, 3, 2)


def test_fused_batchnorm_is_keras_batchnormalization_with_less_memory():
    """The CNNs' BatchNorm runs TF's fused kernel in training (no full-size intermediates kept
    for the backward pass: ~0.7 GB less per step of the face CNN); outputs, gradients and moving
    averages must be Keras' BatchNormalization's, including the biased variance it averages."""
    rng = np.random.default_rng(0)
    x = tf.constant(rng.normal(2.0, 3.0, (6, 9, 7, 5)).astype("float32"))
    ours, ref = BatchNorm(momentum=0.8), keras.layers.BatchNormalization(momentum=0.8)
    weights = [rng.normal(1, 0.2, 5), rng.normal(0, 0.2, 5), rng.normal(0, 1, 5), rng.uniform(0.5, 2, 5)]
    for layer in (ours, ref):
        layer.build(x.shape)
        layer.set_weights(weights)
    out, grads = {}, {}
    for name, layer in (("ours", ours), ("ref", ref)):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x, training=True)
            loss = tf.reduce_sum(y * tf.sin(y))
        out[name] = y.numpy()
        grads[name] = [g.numpy() for g in tape.gradient(loss, [x, layer.gamma, layer.beta])]
    np.testing.assert_allclose(out["ours"], out["ref"], rtol=1e-5, atol=1e-5)
    for a, b in zip(grads["ours"], grads["ref"]):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)
    for a, b in zip(ours.get_weights(), ref.get_weights()):  # moving averages updated alike
        np.testing.assert_allclose(a, b, rtol=1e-6)
    assert not np.allclose(ours.get_weights()[3], weights[3])
    np.testing.assert_allclose(ours(x, training=False).numpy(), ref(x, training=False).numpy(), rtol=1e-5, atol=1e-5)
    ops = {op.type for op in tf.function(lambda t: ours(t, training=True)).get_concrete_function(x).graph.get_operations()}
    assert "FusedBatchNormV3" in ops
    layer = build_model("maxpool", (4, 16, 16, 3), (3, 8, 8)).get_layer("face_cnn_steps").layer.get_layer("block1").bn
    assert isinstance(layer, BatchNorm)


@pytest.mark.parametrize("shape", [(37, 16, 16, 5), (3, 9, 7, 2)])  # more and fewer images than slices
def test_lean_block_computes_what_keras_layers_compute(shape):
    """``low_memory`` recomputes the block's activations slice by slice in the backward pass (its
    full-size intermediates never all in memory): the output, every gradient (input, kernel,
    gamma, beta) and the moving averages must be those of Keras' own Conv2D, BatchNormalization,
    ReLU and MaxPooling2D, also where the batch has fewer images than slices and the pooling
    drops an odd row."""
    rng = np.random.default_rng(0)
    x = tf.constant(rng.normal(1.0, 2.0, shape).astype("float32"))
    lean = ConvBlock(8, 0.8, low_memory=True)
    lean.build(x.shape)
    lean.bn.set_weights([rng.normal(1, 0.3, 8), rng.normal(0, 0.3, 8), rng.normal(0, 1, 8), rng.uniform(0.5, 2, 8)])
    conv = keras.layers.Conv2D(8, 3, padding="same", use_bias=False)
    bn = keras.layers.BatchNormalization(momentum=0.8)
    conv.build(x.shape)
    bn.build((*shape[:-1], 8))
    conv.set_weights(lean.conv.get_weights())
    bn.set_weights(lean.bn.get_weights())
    w = tf.constant(rng.normal(size=(shape[0], shape[1] // 2, shape[2] // 2, 8)).astype("float32"))
    got = {}
    for name, run, weights in (("lean", lambda t: lean(t, training=True), (lean.conv.kernel, lean.bn.gamma, lean.bn.beta)),
                               ("keras", lambda t: keras.layers.MaxPooling2D(2)(keras.ops.relu(bn(conv(t), training=True))),
                                (conv.kernel, bn.gamma, bn.beta))):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = run(x)
            loss = tf.reduce_sum(y * w)
        got[name] = [y] + tape.gradient(loss, [x, *(v.value for v in weights)])
    for a, b in zip(got["lean"], got["keras"]):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-4, atol=1e-4 * float(np.abs(b).max()))
    for a, b in zip(lean.bn.get_weights()[2:], bn.get_weights()[2:]):
        np.testing.assert_allclose(a, b, rtol=1e-5)
    graph = tf.function(lambda t: tf.gradients(tf.reduce_sum(lean(t, training=True)), t)).get_concrete_function(x).graph
    ops = [op.type for op in graph.get_operations()]
    assert ops.count("Conv2DBackpropFilter") == 8  # one per slice: the lean path ran, not Keras' own
