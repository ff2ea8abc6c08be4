"""TensorFlow-only kernels of the model's training steps, behind two functions.

:func:`batch_norm_train` is a BatchNorm training step by TF's fused kernel; :func:`lean_conv_block`
is one CNN layer (Conv2D 3x3 'same' without bias, BatchNorm, ReLU, MaxPool 2x2) whose backward
pass recomputes its full-size intermediates one slice of the batch at a time. Both return the
batch's mean and *biased* variance (what Keras' moving averages average); the layers in
:mod:`avemo.training.models` call them only under the TensorFlow backend, in training, and
update their own moving averages. This is the one file a TensorFlow upgrade touches
(``tf.compat.v1`` and ``tf.raw_ops``); docs/model.md has the measured memory and time.
TensorFlow is imported when a kernel runs, so that this module (imported by the models) loads
under the JAX and PyTorch backends without it.
"""

from __future__ import annotations

#: The lean block's slices of a batch: its full-size intermediates exist for one slice at a time
#: in the backward pass.
LEAN_SLICES = 8


def _biased(variance, x):
    """TF's fused kernel returns the unbiased batch variance; Keras averages the biased one."""
    import tensorflow as tf

    n = tf.cast(tf.size(x) // tf.shape(x)[-1], variance.dtype)
    return variance * ((n - 1.0) / n), n


def batch_norm_train(x, gamma, beta, epsilon: float):
    """(normalised ``x``, batch mean, biased batch variance) of a channels-last 4-D float32
    batch with TF's fused kernel: no full-size intermediates kept for the backward pass."""
    import tensorflow as tf

    y, mean, variance = tf.compat.v1.nn.fused_batch_norm(x, gamma, beta, epsilon=epsilon, is_training=True)[:3]
    return y, mean, _biased(variance, x)[0]


def _serial(items, fn):
    """``fn(item)`` for each item, each call's ops after the previous call's results (TF runs
    independent ops in any order, which would bring every slice's intermediates into memory
    at once)."""
    import tensorflow as tf

    out, last = [], []
    for item in items:
        with tf.control_dependencies(last):
            r = fn(item)
        out.append(r)
        last = tf.nest.flatten(r)
    return out


def lean_conv_block(x, kernel, gamma, beta, epsilon: float, slices: int = LEAN_SLICES):
    """(pooled output, batch mean, biased batch variance) of Conv2D + BatchNorm (batch
    statistics) + ReLU + MaxPool 2x2 on ``x``; the gradients of all four inputs are the plain
    layers' (the BatchNorm terms summed over the whole batch first, then applied per slice), but
    only the convolution's output and the pooled output are kept for the backward pass."""
    import tensorflow as tf

    eps, k = epsilon, slices
    pool = dict(ksize=[1, 2, 2, 1], strides=[1, 2, 2, 1], padding="VALID")

    @tf.custom_gradient
    def block(x, kernel, gamma, beta):
        z = tf.nn.conv2d(x, kernel, 1, "SAME")
        y, mean, var = tf.compat.v1.nn.fused_batch_norm(z, gamma, beta, epsilon=eps, is_training=True)[:3]
        var, count = _biased(var, z)
        out = tf.nn.max_pool2d(tf.nn.relu(y), 2, 2, "VALID")
        n = tf.shape(x)[0]
        cuts = [(i * n) // k for i in range(k + 1)]
        spans = list(zip(cuts, cuts[1:]))
        scale = gamma * tf.math.rsqrt(var + eps)

        def grad(d_out, d_mean, d_var):
            def first(span):  # per slice: d(loss)/d(normalised) x scale, and the BatchNorm sums
                a, b = span
                za = z[a:b]
                r = tf.nn.relu(tf.compat.v1.nn.fused_batch_norm(za, gamma, beta, mean, var, epsilon=eps,
                                                               is_training=False)[0])
                # the pooling recomputed from r: TF's oneDNN gradient of a pooling it has just run
                # is several times faster than one from a stored output
                dr = tf.raw_ops.MaxPoolGrad(orig_input=r, orig_output=tf.nn.max_pool2d(r, 2, 2, "VALID"),
                                            grad=d_out[a:b], **pool)
                dy = tf.raw_ops.ReluGrad(gradients=dr, features=r)
                return tf.raw_ops.FusedBatchNormGradV3(y_backprop=dy, x=za, scale=gamma, reserve_space_1=mean,
                                                       reserve_space_2=var, reserve_space_3=mean, epsilon=eps,
                                                       is_training=False)[:3]

            parts = _serial(spans, first)
            d_gamma = tf.add_n([p[1] for p in parts])  # sum(dy * xhat)
            d_beta = tf.add_n([p[2] for p in parts])  # sum(dy)
            # dz = scale * (dy - mean(dy) - xhat * mean(dy * xhat)) = scale*dy - (slope*z + offset)
            slope = scale * tf.math.rsqrt(var + eps) * d_gamma / count
            offset = scale * d_beta / count - mean * slope
            zeros, ones = tf.zeros_like(slope), tf.ones_like(slope)

            def second(i):
                a, b = spans[i]
                # slope*z + offset in one pass: a batch normalisation with mean 0 and variance 1
                dz = parts[i][0] - tf.compat.v1.nn.fused_batch_norm(z[a:b], slope, offset, zeros, ones,
                                                                     epsilon=0.0, is_training=False)[0]
                conv = dict(out_backprop=dz, strides=[1, 1, 1, 1], padding="SAME")
                return (tf.raw_ops.Conv2DBackpropFilter(input=x[a:b], filter_sizes=tf.shape(kernel), **conv),
                        tf.raw_ops.Conv2DBackpropInput(input_sizes=tf.shape(x[a:b]), filter=kernel, **conv))

            back = _serial(range(k), second)
            return tf.concat([d for _, d in back], 0), tf.add_n([d for d, _ in back]), d_gamma, d_beta

        return (out, mean, var), grad

    out, mean, var = block(x, *(tf.convert_to_tensor(v) for v in (kernel, gamma, beta)))
    return out, tf.stop_gradient(mean), tf.stop_gradient(var)
