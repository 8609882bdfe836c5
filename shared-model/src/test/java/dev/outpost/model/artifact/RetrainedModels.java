package dev.outpost.model.artifact;

import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.IntStream;

/**
 * Retrained model pairs made the way training makes them, seeded: a multilayer perceptron (SiLU, float32) is trained
 * with Adam from He-initialised weights to imitate a fixed random teacher network on Gaussian inputs; that is v1. v2
 * is v1 fine-tuned with Adam (a tenth of the learning rate) on shifted data: inputs whose mean moved and a teacher
 * whose last layer was perturbed, so every layer's weights move. Both are written as safetensors files in float32,
 * float16 and bfloat16 (the fine-tune is done in float32 and cast, as mixed-precision training keeps master
 * weights), and int8 (each weight matrix quantized symmetrically per tensor, its scale a float32 tensor beside it;
 * biases stay float32).
 *
 * <p>{@code java ... RetrainedModels DIR [WIDTH] [DEPTH] [FINE_TUNE_STEPS] [SEED]} writes
 * {@code DIR/{f32,f16,bf16,i8}-v{1,2}.safetensors}.
 */
public final class RetrainedModels {
    /** The network's shape and its training. */
    public record Recipe(
            int inputs,
            int width,
            int depth,
            int outputs,
            int batch,
            int trainSteps,
            double trainRate,
            int fineTuneSteps,
            double fineTuneRate,
            long seed) {
        /**
         * The benchmark's: {@code depth} hidden layers of {@code width} (6 of 2048 by default: 25 M weights, 85 MB in
         * float32; 4 of 1024: 3.3 M weights, 13 MB),
         * trained 150 steps at Adam's usual 1e-3, fine-tuned {@code fineTuneSteps} at 1e-5 (a common rate for a full
         * fine-tune), batches of 32.
         */
        public static Recipe benchmark(int width, int depth, int fineTuneSteps, long seed) {
            return new Recipe(128, width, depth, 16, 32, 150, 1e-3, fineTuneSteps, 1e-5, seed);
        }
    }

    /** One dense layer: {@code weight[in][out]} (stored transposed as PyTorch's {@code [out, in]}), {@code bias[out]}. */
    static final class Layer {
        final int in;
        final int out;
        final float[] weight;
        final float[] bias;
        final float[] gradWeight;
        final float[] gradBias;
        final float[][] moments = new float[4][];

        Layer(int in, int out, SplittableRandom random) {
            this.in = in;
            this.out = out;
            this.weight = new float[in * out];
            this.bias = new float[out];
            double scale = Math.sqrt(2.0 / in);
            for (int i = 0; i < weight.length; i++) {
                weight[i] = (float) (random.nextGaussian() * scale);
            }
            this.gradWeight = new float[weight.length];
            this.gradBias = new float[out];
            moments[0] = new float[weight.length];
            moments[1] = new float[weight.length];
            moments[2] = new float[out];
            moments[3] = new float[out];
        }
    }

    private final Recipe recipe;
    private final List<Layer> layers = new ArrayList<>();
    private final List<Layer> teacher = new ArrayList<>();
    private int adamStep;

    private RetrainedModels(Recipe recipe) {
        this.recipe = recipe;
        SplittableRandom random = new SplittableRandom(recipe.seed());
        int in = recipe.inputs();
        for (int l = 0; l <= recipe.depth(); l++) {
            int out = l == recipe.depth() ? recipe.outputs() : recipe.width();
            layers.add(new Layer(in, out, random));
            in = out;
        }
        // The teacher is a fixed random network of 64-wide layers: it only has to be a nonlinear function to learn.
        int tin = recipe.inputs();
        for (int l = 0; l < 3; l++) {
            int out = l == 2 ? recipe.outputs() : 64;
            teacher.add(new Layer(tin, out, random));
            tin = out;
        }
    }

    /** The float32 weights of v1 and v2, per tensor name in file order. */
    public record Pair(List<String> names, List<long[]> shapes, List<float[]> v1, List<float[]> v2) {}

    /** Trains and fine-tunes the network of {@code recipe}. */
    public static Pair train(Recipe recipe) {
        RetrainedModels m = new RetrainedModels(recipe);
        SplittableRandom data = new SplittableRandom(recipe.seed() ^ 0x5eed);
        for (int s = 0; s < recipe.trainSteps(); s++) {
            m.step(data, 0.0, recipe.trainRate());
        }
        List<float[]> v1 = m.snapshot();
        // Shifted data: the inputs' mean moves and the teacher's last layer is perturbed.
        SplittableRandom shift = new SplittableRandom(recipe.seed() ^ 0xf1e7);
        Layer last = m.teacher.getLast();
        for (int i = 0; i < last.weight.length; i++) {
            last.weight[i] += (float) (shift.nextGaussian() * 0.05);
        }
        m.adamStep = 0;
        for (Layer l : m.layers) {
            for (float[] a : l.moments) {
                java.util.Arrays.fill(a, 0);
            }
        }
        for (int s = 0; s < recipe.fineTuneSteps(); s++) {
            m.step(data, 0.5, recipe.fineTuneRate());
        }
        List<float[]> v2 = m.snapshot();
        List<String> names = new ArrayList<>();
        List<long[]> shapes = new ArrayList<>();
        for (int l = 0; l < m.layers.size(); l++) {
            Layer layer = m.layers.get(l);
            names.add("layers." + l + ".weight");
            shapes.add(new long[] {layer.out, layer.in});
            names.add("layers." + l + ".bias");
            shapes.add(new long[] {layer.out});
        }
        return new Pair(names, shapes, v1, v2);
    }

    /** Every tensor as PyTorch lays it out: weights {@code [out, in]}, then biases. */
    private List<float[]> snapshot() {
        List<float[]> out = new ArrayList<>();
        for (Layer l : layers) {
            float[] t = new float[l.weight.length];
            for (int i = 0; i < l.in; i++) {
                for (int o = 0; o < l.out; o++) {
                    t[o * l.in + i] = l.weight[i * l.out + o];
                }
            }
            out.add(t);
            out.add(l.bias.clone());
        }
        return out;
    }

    /** One Adam step on a batch of mean squared error against the teacher. */
    private void step(SplittableRandom data, double inputShift, double rate) {
        int b = recipe.batch();
        float[][] x = new float[b][recipe.inputs()];
        for (float[] row : x) {
            for (int i = 0; i < row.length; i++) {
                row[i] = (float) (data.nextGaussian() + inputShift);
            }
        }
        float[][] want = x;
        for (int l = 0; l < teacher.size(); l++) {
            want = forward(teacher.get(l), want, l < teacher.size() - 1);
        }
        // SiLU between layers, as modern networks have (a ReLU network's dead units would keep some weights still).
        List<float[][]> inputs = new ArrayList<>();
        List<float[][]> linear = new ArrayList<>();
        float[][] h = x;
        for (int l = 0; l < layers.size(); l++) {
            inputs.add(h);
            float[][] z = forward(layers.get(l), h, false);
            linear.add(z);
            h = l < layers.size() - 1 ? silu(z) : z;
        }
        float[][] grad = new float[b][recipe.outputs()];
        for (int s = 0; s < b; s++) {
            for (int o = 0; o < recipe.outputs(); o++) {
                grad[s][o] = 2 * (h[s][o] - want[s][o]) / (b * recipe.outputs());
            }
        }
        for (int l = layers.size() - 1; l >= 0; l--) {
            Layer layer = layers.get(l);
            backward(layer, inputs.get(l), grad);
            if (l > 0) {
                float[][] down = inputGradient(layer, grad);
                float[][] z = linear.get(l - 1);
                for (int s = 0; s < b; s++) {
                    for (int i = 0; i < layer.in; i++) {
                        double sig = 1 / (1 + Math.exp(-z[s][i]));
                        down[s][i] *= (float) (sig * (1 + z[s][i] * (1 - sig)));
                    }
                }
                grad = down;
            }
        }
        adamStep++;
        for (Layer layer : layers) {
            adam(layer.weight, layer.gradWeight, layer.moments[0], layer.moments[1], rate);
            adam(layer.bias, layer.gradBias, layer.moments[2], layer.moments[3], rate);
        }
    }

    private void adam(float[] w, float[] g, float[] m, float[] v, double rate) {
        double c1 = 1 - Math.pow(0.9, adamStep);
        double c2 = 1 - Math.pow(0.999, adamStep);
        float a = (float) (rate * Math.sqrt(c2) / c1);
        inBlocks(w.length, (from, to) -> {
            for (int i = from; i < to; i++) {
                m[i] = 0.9f * m[i] + 0.1f * g[i];
                v[i] = 0.999f * v[i] + 0.001f * g[i] * g[i];
                w[i] -= a * m[i] / ((float) Math.sqrt(v[i]) + 1e-8f);
            }
        });
    }

    private static final int BLOCK = 256;

    /** {@code body} over {@code [0, n)} in blocks of {@link #BLOCK}, the blocks in parallel. */
    private static void inBlocks(int n, BlockBody body) {
        IntStream.range(0, (n + BLOCK - 1) / BLOCK)
                .parallel()
                .forEach(k -> body.run(k * BLOCK, Math.min(n, (k + 1) * BLOCK)));
    }

    @FunctionalInterface
    private interface BlockBody {
        void run(int from, int to);
    }

    private static float[][] silu(float[][] z) {
        float[][] a = new float[z.length][];
        for (int s = 0; s < z.length; s++) {
            a[s] = new float[z[s].length];
            for (int i = 0; i < a[s].length; i++) {
                a[s][i] = (float) (z[s][i] / (1 + Math.exp(-z[s][i])));
            }
        }
        return a;
    }

    /** {@code x W + b}, ReLU'd if {@code relu}; the work split over blocks of output columns. */
    private static float[][] forward(Layer layer, float[][] x, boolean relu) {
        float[][] y = new float[x.length][layer.out];
        inBlocks(layer.out, (from, to) -> {
            for (int i = 0; i < layer.in; i++) {
                int row = i * layer.out;
                for (int s = 0; s < x.length; s++) {
                    float xi = x[s][i];
                    if (xi == 0) {
                        continue;
                    }
                    float[] ys = y[s];
                    for (int o = from; o < to; o++) {
                        ys[o] += xi * layer.weight[row + o];
                    }
                }
            }
            for (float[] ys : y) {
                for (int o = from; o < to; o++) {
                    ys[o] += layer.bias[o];
                    if (relu && ys[o] < 0) {
                        ys[o] = 0;
                    }
                }
            }
        });
        return y;
    }

    /** The layer's weight and bias gradients, over the batch. */
    private static void backward(Layer layer, float[][] input, float[][] grad) {
        inBlocks(layer.out, (from, to) -> {
            for (int i = 0; i < layer.in; i++) {
                int row = i * layer.out;
                for (int o = from; o < to; o++) {
                    layer.gradWeight[row + o] = 0;
                }
                for (int s = 0; s < input.length; s++) {
                    float xi = input[s][i];
                    if (xi == 0) {
                        continue;
                    }
                    float[] gs = grad[s];
                    for (int o = from; o < to; o++) {
                        layer.gradWeight[row + o] += xi * gs[o];
                    }
                }
            }
            for (int o = from; o < to; o++) {
                float sum = 0;
                for (float[] gs : grad) {
                    sum += gs[o];
                }
                layer.gradBias[o] = sum;
            }
        });
    }

    /**
     * The gradient with respect to the layer's input, {@code grad W^T}: through a transposed copy of the weights, so
     * that the inner loop is a vectorizable multiply-add over a row rather than a sum.
     */
    private static float[][] inputGradient(Layer layer, float[][] grad) {
        float[] transposed = new float[layer.weight.length];
        for (int i = 0; i < layer.in; i++) {
            for (int o = 0; o < layer.out; o++) {
                transposed[o * layer.in + i] = layer.weight[i * layer.out + o];
            }
        }
        float[][] down = new float[grad.length][layer.in];
        inBlocks(layer.in, (from, to) -> {
            for (int o = 0; o < layer.out; o++) {
                int row = o * layer.in;
                for (int s = 0; s < grad.length; s++) {
                    float g = grad[s][o];
                    float[] ds = down[s];
                    for (int i = from; i < to; i++) {
                        ds[i] += g * transposed[row + i];
                    }
                }
            }
        });
        return down;
    }

    /** Element types the pair is written in. */
    public enum Precision {
        F32("F32", 4),
        F16("F16", 2),
        BF16("BF16", 2),
        I8("I8", 1);

        final String dtype;
        final int bytes;

        Precision(String dtype, int bytes) {
            this.dtype = dtype;
            this.bytes = bytes;
        }
    }

    /** Writes one version of the pair as a safetensors file of {@code precision}. */
    public static void write(Pair pair, boolean second, Precision precision, Path file) throws IOException {
        List<float[]> values = second ? pair.v2() : pair.v1();
        List<TensorLayout.Tensor> tensors = new ArrayList<>();
        List<byte[]> data = new ArrayList<>();
        long at = 0;
        for (int t = 0; t < values.size(); t++) {
            float[] v = values.get(t);
            boolean weight = pair.names().get(t).endsWith(".weight");
            Precision p = precision == Precision.I8 && !weight ? Precision.F32 : precision;
            byte[] bytes;
            if (p == Precision.I8) {
                float max = 0;
                for (float f : v) {
                    max = Math.max(max, Math.abs(f));
                }
                float scale = max == 0 ? 1 : max / 127;
                bytes = new byte[v.length];
                for (int i = 0; i < v.length; i++) {
                    bytes[i] = (byte) Math.clamp(Math.round(v[i] / scale), -127, 127);
                }
                tensors.add(new TensorLayout.Tensor(
                        pair.names().get(t), "I8", pair.shapes().get(t), at, at + bytes.length));
                data.add(bytes);
                at += bytes.length;
                byte[] s = encode(new float[] {scale}, Precision.F32);
                tensors.add(new TensorLayout.Tensor(pair.names().get(t) + "_scale", "F32", new long[] {1}, at, at + 4));
                data.add(s);
                at += 4;
                continue;
            }
            bytes = encode(v, p);
            tensors.add(new TensorLayout.Tensor(
                    pair.names().get(t), p.dtype, pair.shapes().get(t), at, at + bytes.length));
            data.add(bytes);
            at += bytes.length;
        }
        try (OutputStream out = new BufferedOutputStream(Files.newOutputStream(file), 1 << 20)) {
            out.write(TensorLayout.header(tensors));
            for (byte[] d : data) {
                out.write(d);
            }
        }
    }

    /**
     * One version of the pair as a GGUF file of {@code precision} (float32, float16 or bfloat16), as llama.cpp writes
     * an unquantized model: the same tensors as {@link #write}, their dimensions innermost first.
     */
    public static byte[] gguf(Pair pair, boolean second, Precision precision) {
        int type = switch (precision) {
            case F32 -> GgufFiles.F32;
            case F16 -> GgufFiles.F16;
            case BF16 -> GgufFiles.BF16;
            case I8 -> throw new IllegalArgumentException("GGUF int8 models are block-quantized (Q8_0)");
        };
        List<float[]> values = second ? pair.v2() : pair.v1();
        List<GgufFiles.Entry> tensors = new ArrayList<>();
        for (int t = 0; t < values.size(); t++) {
            long[] shape = pair.shapes().get(t);
            long[] dims = new long[shape.length];
            for (int d = 0; d < shape.length; d++) {
                dims[d] = shape[shape.length - 1 - d];
            }
            tensors.add(new GgufFiles.Entry(pair.names().get(t), type, dims, encode(values.get(t), precision)));
        }
        return GgufFiles.write(tensors, 32);
    }

    /**
     * One version of the pair as an ONNX model of {@code precision} (float32, float16 or bfloat16), as an exporter
     * writes the MLP: a {@code Gemm} per layer against its weight as trained ({@code [out, in]}, {@code transB}),
     * {@code Sigmoid} and {@code Mul} for each hidden layer's SiLU, and the weights and biases as initializers in raw
     * data.
     */
    public static byte[] onnx(Pair pair, boolean second, Precision precision) {
        int type = switch (precision) {
            case F32 -> OnnxFiles.FLOAT;
            case F16 -> OnnxFiles.FLOAT16;
            case BF16 -> OnnxFiles.BFLOAT16;
            case I8 -> throw new IllegalArgumentException("an ONNX int8 model is QDQ nodes around its tensors");
        };
        List<float[]> values = second ? pair.v2() : pair.v1();
        List<OnnxFiles.Initializer> initializers = new ArrayList<>();
        List<OnnxFiles.Node> nodes = new ArrayList<>();
        String x = "input";
        int layers = values.size() / 2;
        for (int l = 0; l < layers; l++) {
            String w = pair.names().get(2 * l);
            String b = pair.names().get(2 * l + 1);
            initializers.add(
                    new OnnxFiles.Initializer(w, type, pair.shapes().get(2 * l), encode(values.get(2 * l), precision)));
            initializers.add(new OnnxFiles.Initializer(
                    b, type, pair.shapes().get(2 * l + 1), encode(values.get(2 * l + 1), precision)));
            String z = l == layers - 1 ? "output" : "z" + l;
            nodes.add(new OnnxFiles.Node("Gemm", List.of(x, w, b), List.of(z), List.of("transB", 1)));
            if (l < layers - 1) {
                nodes.add(new OnnxFiles.Node("Sigmoid", List.of(z), List.of("s" + l), List.of()));
                nodes.add(new OnnxFiles.Node("Mul", List.of(z, "s" + l), List.of("h" + l), List.of()));
                x = "h" + l;
            }
        }
        long in = pair.shapes().getFirst()[1];
        long out = pair.shapes().get(2 * (layers - 1))[0];
        return OnnxFiles.write(nodes, type, "input", new long[] {-1, in}, "output", new long[] {-1, out}, initializers);
    }

    /** Little-endian elements of {@code precision} (float16 and bfloat16 rounded to nearest, ties to even). */
    static byte[] encode(float[] v, Precision precision) {
        byte[] out = new byte[v.length * precision.bytes];
        for (int i = 0; i < v.length; i++) {
            int bits = switch (precision) {
                case F32 -> Float.floatToRawIntBits(v[i]);
                case F16 -> Float.floatToFloat16(v[i]);
                case BF16 -> {
                    int f = Float.floatToRawIntBits(v[i]);
                    yield (f + 0x7fff + ((f >>> 16) & 1)) >>> 16;
                }
                case I8 -> throw new IllegalArgumentException("int8 is quantized per tensor");
            };
            for (int b = 0; b < precision.bytes; b++) {
                out[i * precision.bytes + b] = (byte) (bits >>> (8 * b));
            }
        }
        return out;
    }

    public static void main(String[] args) throws IOException {
        Path dir = Files.createDirectories(Path.of(args[0]));
        int width = args.length > 1 ? Integer.parseInt(args[1]) : 1024;
        int depth = args.length > 2 ? Integer.parseInt(args[2]) : 4;
        int fineTuneSteps = args.length > 3 ? Integer.parseInt(args[3]) : 100;
        long seed = args.length > 4 ? Long.parseLong(args[4]) : 1;
        long t = System.nanoTime();
        Pair pair = train(Recipe.benchmark(width, depth, fineTuneSteps, seed));
        System.out.printf("trained and fine-tuned in %.1f s%n", (System.nanoTime() - t) / 1e9);
        for (Precision p : Precision.values()) {
            String name = p.name().toLowerCase(java.util.Locale.ROOT);
            write(pair, false, p, dir.resolve(name + "-v1.safetensors"));
            write(pair, true, p, dir.resolve(name + "-v2.safetensors"));
        }
    }
}
