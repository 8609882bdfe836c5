package dev.outpost.model.artifact;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.github.luben.zstd.ZstdDecompressCtx;
import dev.outpost.model.ErrorCode;
import dev.outpost.model.OutpostException;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Tensor deltas on real safetensors files: exact round trips, what is paired and what is refused. */
class TensorDeltaTest {
    /** A network of some 140 K weights trained and fine-tuned (0.56 MB in float32: several chunks). */
    private static final RetrainedModels.Recipe RECIPE =
            new RetrainedModels.Recipe(32, 256, 3, 8, 16, 60, 1e-3, 40, 1e-5, 11);

    @Test
    void aRetrainedModelUpdatesExactlyInEveryPrecisionForFewerBytesThanChunkLocalDeltas(@TempDir Path dir)
            throws IOException {
        RetrainedModels.Pair pair = RetrainedModels.train(RECIPE);
        for (RetrainedModels.Precision p : RetrainedModels.Precision.values()) {
            byte[][] versions = versions(pair, p, dir);
            byte[] v1 = versions[0];
            byte[] v2 = versions[1];
            UpdatePlannerTest.Store store = new UpdatePlannerTest.Store();
            Manifest m1 = store.build(1, v1);
            Manifest m2 = store.build(2, v2);
            DeltaIndex chunkLocal = store.deltas(m1, m2, v1);
            DeltaIndex both = store.withTensorDeltas(chunkLocal, m1, v1, m2, v2);

            UpdatePlanner.Plan before = UpdatePlanner.plan(m1, m2, chunkLocal);
            UpdatePlanner.Plan plan = UpdatePlanner.plan(m1, m2, both);

            assertArrayEquals(v2, store.apply(plan, m1, v1, m2), p + ": rebuilt exactly");
            long tensorSteps = plan.steps().stream()
                    .filter(s ->
                            s instanceof UpdatePlanner.Step.Delta d && d.delta().kind() == DeltaIndex.Kind.TENSOR)
                    .count();
            assertTrue(tensorSteps > 0, p + ": tensor deltas are taken where smaller " + plan);
            assertTrue(
                    plan.downloadBytes() < before.downloadBytes() * 0.9,
                    p + ": " + plan.downloadBytes() + " bytes against " + before.downloadBytes() + " chunk-local");
            for (UpdatePlanner.Step s : plan.steps()) {
                int i = s.target();
                assertTrue(
                        s.downloadBytes() <= before.step(i).downloadBytes(),
                        p + ": chunk " + i + " costs no more than before");
            }
        }
    }

    @Test
    void aRetrainedGgufModelUpdatesExactlyInEveryFloatPrecisionForFewerBytesThanChunkLocalDeltas() throws IOException {
        updatesExactlyForFewerBytes(RetrainedModels::gguf);
    }

    @Test
    void aRetrainedOnnxModelUpdatesExactlyInEveryFloatPrecisionForFewerBytesThanChunkLocalDeltas() throws IOException {
        updatesExactlyForFewerBytes(RetrainedModels::onnx);
    }

    interface ModelFormat {
        byte[] write(RetrainedModels.Pair pair, boolean second, RetrainedModels.Precision precision);
    }

    private static void updatesExactlyForFewerBytes(ModelFormat format) throws IOException {
        RetrainedModels.Pair pair = RetrainedModels.train(RECIPE);
        for (RetrainedModels.Precision p :
                List.of(RetrainedModels.Precision.F32, RetrainedModels.Precision.F16, RetrainedModels.Precision.BF16)) {
            byte[] v1 = format.write(pair, false, p);
            byte[] v2 = format.write(pair, true, p);
            TensorLayout layout = TensorLayout.read(ByteSource.of(v2)).orElseThrow();
            assertEquals(
                    pair.names(),
                    layout.tensors().stream().map(TensorLayout.Tensor::name).toList());
            UpdatePlannerTest.Store store = new UpdatePlannerTest.Store();
            Manifest m1 = store.build(1, v1);
            Manifest m2 = store.build(2, v2);
            DeltaIndex chunkLocal = store.deltas(m1, m2, v1);
            UpdatePlanner.Plan before = UpdatePlanner.plan(m1, m2, chunkLocal);
            UpdatePlanner.Plan plan = UpdatePlanner.plan(m1, m2, store.withTensorDeltas(chunkLocal, m1, v1, m2, v2));
            assertArrayEquals(v2, store.apply(plan, m1, v1, m2), p + ": rebuilt exactly");
            assertTrue(
                    plan.steps().stream()
                            .anyMatch(s -> s instanceof UpdatePlanner.Step.Delta d
                                    && d.delta().kind() == DeltaIndex.Kind.TENSOR),
                    p + ": tensor deltas are taken " + plan);
            assertTrue(
                    plan.downloadBytes() < before.downloadBytes() * 0.9,
                    p + ": " + plan.downloadBytes() + " bytes against " + before.downloadBytes() + " chunk-local");
        }
    }

    @Test
    void anOnnxLayoutHasItsRawInitializersWhereTheyLieAndLeavesTheRestOut() throws IOException {
        Random random = new Random(9);
        byte[] a = new byte[4 * 16 * 4];
        byte[] h = new byte[10 * 2];
        byte[] q = new byte[3];
        byte[] listed = new byte[8 * 4];
        byte[] short1 = new byte[5 * 4];
        for (byte[] b : List.of(a, h, q, listed, short1)) {
            random.nextBytes(b);
        }
        List<OnnxFiles.Initializer> initializers = List.of(
                new OnnxFiles.Initializer("a", OnnxFiles.FLOAT, new long[] {4, 16}, a),
                new OnnxFiles.Initializer("listed", OnnxFiles.FLOAT, new long[] {8}, listed, OnnxFiles.Data.FLOAT_DATA),
                new OnnxFiles.Initializer("h", OnnxFiles.FLOAT16, new long[] {10}, h),
                new OnnxFiles.Initializer(
                        "elsewhere", OnnxFiles.FLOAT, new long[] {8}, listed, OnnxFiles.Data.EXTERNAL),
                new OnnxFiles.Initializer("q", OnnxFiles.INT8, new long[] {3}, q),
                new OnnxFiles.Initializer("short", OnnxFiles.FLOAT, new long[] {6}, short1));
        List<OnnxFiles.Node> nodes = List.of(new OnnxFiles.Node("MatMul", List.of("x", "a"), List.of("y"), List.of()));
        byte[] file = OnnxFiles.write(
                nodes, OnnxFiles.FLOAT, "x", new long[] {-1, 4}, "y", new long[] {-1, 16}, initializers);
        TensorLayout layout = TensorLayout.read(ByteSource.of(file)).orElseThrow();
        assertEquals(
                List.of("a", "h", "q"),
                layout.tensors().stream().map(TensorLayout.Tensor::name).toList(),
                "raw data only: not a typed list, not external data, not data short of the dimensions");
        TensorLayout.Tensor ta = layout.get("a").orElseThrow();
        assertEquals("F32", ta.dtype());
        assertEquals("F16", layout.get("h").orElseThrow().dtype());
        assertEquals("I8", layout.get("q").orElseThrow().dtype());
        assertArrayEquals(new long[] {4, 16}, ta.shape());
        assertEquals(16, ta.rowLength());
        for (var entry : java.util.Map.of("a", a, "h", h, "q", q).entrySet()) {
            TensorLayout.Tensor t = layout.get(entry.getKey()).orElseThrow();
            assertArrayEquals(entry.getValue(), Arrays.copyOfRange(file, (int) t.start(), (int) t.end()));
        }

        byte[] cut = Arrays.copyOf(file, (int) layout.get("h").orElseThrow().end() - 1);
        byte[] trailing = Arrays.copyOf(file, file.length + 1); // a tag 0: field number 0
        byte[] duplicate = OnnxFiles.write(
                nodes,
                OnnxFiles.FLOAT,
                "x",
                new long[] {-1, 4},
                "y",
                new long[] {-1, 16},
                List.of(initializers.get(0), new OnnxFiles.Initializer("a", OnnxFiles.FLOAT16, new long[] {10}, h)));
        byte[] noGraph = new OnnxFiles.Message().varint(1, 9).string(2, "x").bytes();
        byte[] noise = new byte[4096];
        random.nextBytes(noise);
        noise[0] = 0x08;
        for (byte[] bad : List.of(cut, trailing, duplicate, noGraph, noise)) {
            assertTrue(TensorLayout.read(ByteSource.of(bad)).isEmpty(), "no layout for a model that does not hold");
        }
    }

    @Test
    void aGgufLayoutHasItsFloatTensorsWhereTheyLieAndLeavesQuantizedBlocksAndBadHeadersOut() throws IOException {
        Random random = new Random(8);
        byte[] a = new byte[16 * 4 * 4];
        byte[] q = new byte[2 * 34]; // two Q8_0 blocks: a float16 scale and 32 int8 each
        byte[] b = new byte[10 * 2];
        random.nextBytes(a);
        random.nextBytes(q);
        random.nextBytes(b);
        List<GgufFiles.Entry> entries = List.of(
                new GgufFiles.Entry("a", GgufFiles.F32, new long[] {16, 4}, a),
                new GgufFiles.Entry("q", GgufFiles.Q8_0, new long[] {64}, q),
                new GgufFiles.Entry("b", GgufFiles.BF16, new long[] {10}, b));
        byte[] file = GgufFiles.write(entries, 64);
        TensorLayout layout = TensorLayout.read(ByteSource.of(file)).orElseThrow();
        assertEquals(
                List.of("a", "b"),
                layout.tensors().stream().map(TensorLayout.Tensor::name).toList());
        TensorLayout.Tensor ta = layout.get("a").orElseThrow();
        TensorLayout.Tensor tb = layout.get("b").orElseThrow();
        assertEquals("F32", ta.dtype());
        assertEquals("BF16", tb.dtype());
        assertArrayEquals(new long[] {4, 16}, ta.shape(), "outermost first, as safetensors writes it");
        assertEquals(16, ta.rowLength());
        assertEquals(0, ta.start() % 64, "the data start at the file's alignment");
        assertArrayEquals(a, Arrays.copyOfRange(file, (int) ta.start(), (int) ta.end()));
        assertArrayEquals(b, Arrays.copyOfRange(file, (int) tb.start(), (int) tb.end()));
        assertTrue(layout.get("q").isEmpty(), "quantized blocks are not elements");

        byte[] versionOne = file.clone();
        versionOne[4] = 1;
        byte[] cutInHeader = Arrays.copyOf(file, (int) ta.start() / 2);
        byte[] cutInData = Arrays.copyOf(file, (int) tb.end() - 1);
        byte[] notPowerOfTwo = GgufFiles.write(entries, 48);
        byte[] duplicate = GgufFiles.write(
                List.of(entries.get(0), new GgufFiles.Entry("a", GgufFiles.BF16, new long[] {10}, b)), 32);
        for (byte[] bad : List.of(versionOne, cutInHeader, cutInData, notPowerOfTwo, duplicate)) {
            assertTrue(TensorLayout.read(ByteSource.of(bad)).isEmpty(), "no layout for a header that does not hold");
        }
    }

    @Test
    void everyElementWidthRoundTripsWhereverTheChunkCutsFall() throws IOException {
        Random random = new Random(5);
        List<String> dtypes = List.of("F64", "I64", "F32", "I32", "F16", "BF16", "I16", "I8", "U8", "BOOL", "F8_E4M3");
        List<TensorLayout.Tensor> tensors = new ArrayList<>();
        List<byte[]> before = new ArrayList<>();
        List<byte[]> after = new ArrayList<>();
        long at = 0;
        for (String dtype : dtypes) {
            int w = TensorLayout.elementBytes(dtype);
            int elements = 3000 + random.nextInt(3000);
            tensors.add(new TensorLayout.Tensor(
                    dtype.toLowerCase(), dtype, new long[] {elements}, at, at + (long) elements * w));
            at += (long) elements * w;
            byte[] held = new byte[elements * w];
            random.nextBytes(held);
            byte[] target = held.clone();
            for (int e = 0; e < elements; e++) { // a small change in the low byte, a carry now and then
                int p = e * w;
                int low = (target[p] & 0xff) + random.nextInt(9) - 4;
                target[p] = (byte) low;
                if (w > 1 && (low < 0 || low > 255)) {
                    target[p + 1] += (byte) (low < 0 ? -1 : 1);
                }
            }
            before.add(held);
            after.add(target);
        }
        byte[] heldFile = file(tensors, before);
        byte[] targetFile = file(tensors, after);
        UpdatePlannerTest.Store store = new UpdatePlannerTest.Store();
        Manifest held = store.build(1, heldFile);
        TensorLayout heldLayout = TensorLayout.read(ByteSource.of(heldFile)).orElseThrow();
        TensorLayout targetLayout = TensorLayout.read(ByteSource.of(targetFile)).orElseThrow();
        assertEquals(dtypes.size(), targetLayout.tensors().size());
        TensorDelta.Pairing pairing = new TensorDelta.Pairing(held, heldLayout, targetLayout);
        for (TensorDelta.Transform transform :
                List.of(TensorDelta.Transform.CLASSES, TensorDelta.Transform.DIFFERENCE, TensorDelta.Transform.XOR)) {
            for (int round = 0; round < 200; round++) {
                int length = 1 + random.nextInt(40_000);
                int start = random.nextInt(targetFile.length - length);
                var mapping = TensorDelta.map(pairing, start, length, transform);
                byte[] raw = Arrays.copyOfRange(targetFile, start, start + length);
                if (mapping.isEmpty()) {
                    // Only a window without one whole element of a tensor has no mapping.
                    assertTrue(
                            length < 16 || start + length <= tensors.getFirst().start(), "window " + start);
                    continue;
                }
                for (TensorDelta.Segment s : mapping.get().segments()) {
                    assertTrue(
                            s.transform() == TensorDelta.Transform.LITERAL
                                    || s.transform() == transform
                                    || (transform == TensorDelta.Transform.CLASSES
                                            && s.transform() == TensorDelta.Transform.DIFFERENCE
                                            && s.exponentBits() == 0),
                            "classes stand for differences in planes in integer tensors: " + s);
                }
                byte[] ref = UpdatePlannerTest.Store.reference(
                        held, heldFile, mapping.get().references());
                byte[] frame = TensorDelta.encode(raw, mapping.get().segments(), ref, ref.length, 3);
                assertArrayEquals(raw, TensorDelta.decode(frame, ref, ref.length, length), transform + " at " + start);
            }
        }
        // Whole files, chunk by chunk, cost far less as differences than the random bytes they are.
        Manifest target = store.build(2, targetFile);
        DeltaIndex both =
                store.withTensorDeltas(store.deltas(held, target, heldFile), held, heldFile, target, targetFile);
        UpdatePlanner.Plan plan = UpdatePlanner.plan(held, target, both);
        assertArrayEquals(targetFile, store.apply(plan, held, heldFile, target));
        assertTrue(plan.downloadBytes() < targetFile.length / 2, plan.toString());
    }

    @Test
    void aRetrainedModelIsPredictedFromARankOneChangeForFewerBytesInEveryFloatPrecision(@TempDir Path dir)
            throws IOException {
        RetrainedModels.Pair pair = RetrainedModels.train(RECIPE);
        for (RetrainedModels.Precision precision :
                List.of(RetrainedModels.Precision.F32, RetrainedModels.Precision.F16, RetrainedModels.Precision.BF16)) {
            predictedForFewerBytes(pair, precision, dir);
        }
    }

    /** The pair's two versions in {@code precision}, written as safetensors files under {@code dir} and read back. */
    private static byte[][] versions(RetrainedModels.Pair pair, RetrainedModels.Precision precision, Path dir)
            throws IOException {
        Path f1 = dir.resolve(precision + "-v1.safetensors");
        Path f2 = dir.resolve(precision + "-v2.safetensors");
        RetrainedModels.write(pair, false, precision, f1);
        RetrainedModels.write(pair, true, precision, f2);
        return new byte[][] {Files.readAllBytes(f1), Files.readAllBytes(f2)};
    }

    private static void predictedForFewerBytes(RetrainedModels.Pair pair, RetrainedModels.Precision precision, Path dir)
            throws IOException {
        byte[][] versions = versions(pair, precision, dir);
        byte[] v1 = versions[0];
        byte[] v2 = versions[1];
        UpdatePlannerTest.Store store = new UpdatePlannerTest.Store();
        Manifest m1 = store.build(1, v1);
        Manifest m2 = store.build(2, v2);
        TensorDelta.Pairing pairing = new TensorDelta.Pairing(
                m1,
                TensorLayout.read(ByteSource.of(v1)).orElseThrow(),
                TensorLayout.read(ByteSource.of(v2)).orElseThrow());
        long predicted = 0;
        long unpredicted = 0;
        for (int i = 0; i < m2.chunkCount(); i++) {
            long start = m2.offset(i);
            int length = m2.rawLength(i);
            var mapping = TensorDelta.map(pairing, start, length, TensorDelta.TRANSFORM);
            if (mapping.isEmpty()) {
                continue;
            }
            byte[] ref = UpdatePlannerTest.Store.reference(m1, v1, mapping.get().references());
            byte[] raw = Arrays.copyOfRange(v2, (int) start, (int) start + length);
            List<TensorDelta.Segment> segments = mapping.get().segments();
            assertTrue(
                    segments.stream()
                            .anyMatch(s -> s.grid() != null
                                    && s.grid().rowLength() == 256
                                    && s.grid().column() < 256),
                    "a matrix's segments know their place in its rows: " + segments);
            byte[] frame = TensorDelta.encode(raw, segments, ref, ref.length, 3);
            assertArrayEquals(raw, TensorDelta.decode(frame, ref, ref.length, length), precision + " chunk " + i);
            // The same segments without their place in the rows cannot be predicted: classes against the held
            // elements, as before.
            List<TensorDelta.Segment> off = segments.stream()
                    .map(s -> new TensorDelta.Segment(
                            s.transform(),
                            s.length(),
                            s.elementBytes(),
                            s.referenceOffset(),
                            s.exponentShift(),
                            s.exponentBits()))
                    .toList();
            byte[] plain = TensorDelta.encode(raw, off, ref, ref.length, 3);
            assertArrayEquals(raw, TensorDelta.decode(plain, ref, ref.length, length));
            assertTrue(
                    frame.length <= plain.length,
                    precision + ": a prediction is written only where it is smaller, chunk " + i);
            predicted += frame.length;
            unpredicted += plain.length;
        }
        // In bfloat16 this short fine-tune leaves most weights as they were: nothing to predict, and never more bytes.
        double most = precision == RetrainedModels.Precision.BF16 ? 1.0 : 0.97;
        assertTrue(
                predicted <= unpredicted * most,
                precision + ": predicted " + predicted + " bytes against " + unpredicted
                        + " for classes against the held elements");
    }

    @Test
    void aPredictedSegmentRoundTripsNonFiniteElementsAndRefusesBrokenFactors() {
        byte[] ref = null;
        byte[] target = null;
        byte[] whole = null;
        // float32, float16 and bfloat16 (width, exponent shift and bits).
        for (int[] kind : List.of(new int[] {4, 23, 8}, new int[] {2, 10, 5}, new int[] {2, 7, 8})) {
            int w = kind[0];
            // A 64 x 64 matrix moved by a rank-one change plus noise, some elements NaN or infinite.
            int rows = 64;
            int columns = 64;
            Random random = new Random(5);
            ref = new byte[rows * columns * w];
            target = new byte[ref.length];
            double[] u = random.doubles(rows, -1, 1).toArray();
            double[] v = random.doubles(columns, -1, 1).toArray();
            for (int i = 0; i < rows; i++) {
                for (int j = 0; j < columns; j++) {
                    float held = (float) random.nextGaussian() * 0.05f;
                    float moved = held + (float) (1e-3 * u[i] * v[j] + 1e-6 * random.nextGaussian());
                    int e = i * columns + j;
                    if (e % 997 == 5) {
                        held = Float.NaN;
                        moved = Float.intBitsToFloat(0x7fc00123);
                    } else if (e % 1009 == 7) {
                        held = Float.POSITIVE_INFINITY;
                    } else if (e % 1013 == 9) {
                        moved = Float.NEGATIVE_INFINITY;
                    }
                    put(ref, e, kind, held);
                    put(target, e, kind, moved);
                }
            }
            TensorDelta.Segment classes =
                    new TensorDelta.Segment(TensorDelta.Transform.CLASSES, target.length, w, 0, kind[1], kind[2]);
            byte[] plain = TensorDelta.encode(target, List.of(classes), ref, ref.length, 3);
            // From the middle of row 3: the first and last rows are partial.
            int from = w * (3 * columns + 17);
            byte[] tail = Arrays.copyOfRange(target, from, target.length);
            byte[] frame = TensorDelta.encode(
                    tail,
                    List.of(new TensorDelta.Segment(
                                    TensorDelta.Transform.CLASSES, tail.length, w, from, kind[1], kind[2])
                            .on(new TensorDelta.Grid(columns, 17))),
                    ref,
                    ref.length,
                    3);
            assertEquals(TensorDelta.Transform.PREDICTED.ordinal(), frame[15], "width " + w);
            assertArrayEquals(tail, TensorDelta.decode(frame, ref, ref.length, tail.length));
            whole = TensorDelta.encode(
                    target, List.of(classes.on(new TensorDelta.Grid(columns, 0))), ref, ref.length, 3);
            assertEquals(TensorDelta.Transform.PREDICTED.ordinal(), whole[15], "width " + w);
            assertArrayEquals(target, TensorDelta.decode(whole, ref, ref.length, target.length));
            assertTrue(whole.length < plain.length, whole.length + " bytes predicted against " + plain.length);
        }

        // The last (bfloat16) frame. The segment's header: transform at 15, then length, width (20), offset, exponent
        // shift and bits, the row length (27), the first column (31), the scale (35), then 4 bits a row and a column;
        // numbers big-endian.
        byte[] finalRef = ref;
        byte[] finalTarget = target;
        List<byte[]> bad = new ArrayList<>();
        bad.add(Arrays.copyOf(whole, 39 + 40)); // cut inside the factors (64 + 64 of 4 bits: 64 bytes)
        byte[] width = whole.clone();
        width[20] = 4; // float32 elements with bfloat16's exponent field
        bad.add(width);
        byte[] noRows = whole.clone();
        noRows[30] = 0;
        bad.add(noRows);
        byte[] column = whole.clone();
        column[34] = 64; // past the row
        bad.add(column);
        byte[] longRows = whole.clone();
        longRows[28] = 0x7f; // rows of 8 M elements: its one row needs a column factor an element, past the frame
        bad.add(longRows);
        for (byte[] b : bad) {
            assertEquals(
                    ErrorCode.CHUNK_CORRUPT,
                    assertThrows(
                                    OutpostException.class,
                                    () -> TensorDelta.decode(b, finalRef, finalRef.length, finalTarget.length))
                            .code());
        }
    }

    /** Element {@code e} of {@code kind} (width, exponent shift, bits) as {@code value}, little-endian. */
    private static void put(byte[] b, int e, int[] kind, float value) {
        int bits = Float.floatToRawIntBits(value);
        if (kind[0] == 4) {
            for (int k = 0; k < 4; k++) {
                b[4 * e + k] = (byte) (bits >>> (8 * k));
            }
            return;
        }
        int half = kind[1] == 10 ? Float.floatToFloat16(value) : (bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16;
        if (Float.isNaN(value)) {
            half = kind[1] == 10 ? 0x7e01 : 0x7fc1;
        }
        b[2 * e] = (byte) half;
        b[2 * e + 1] = (byte) (half >>> 8);
    }

    @Test
    void aTensorOfAnotherShapeOrTypeIsNeverPaired() throws IOException {
        byte[] data = new byte[64 * 64 * 4];
        new Random(3).nextBytes(data);
        byte[] halves = new byte[64 * 2];
        byte[] held = file(
                List.of(
                        new TensorLayout.Tensor("a", "F32", new long[] {64, 64}, 0, data.length),
                        new TensorLayout.Tensor("b", "BF16", new long[] {64}, data.length, data.length + 128)),
                List.of(data, halves));
        byte[] target = file(
                List.of(
                        new TensorLayout.Tensor("a", "F32", new long[] {32, 128}, 0, data.length),
                        new TensorLayout.Tensor("b", "F16", new long[] {64}, data.length, data.length + 128)),
                List.of(data, halves));
        UpdatePlannerTest.Store store = new UpdatePlannerTest.Store();
        Manifest m1 = store.build(1, held);
        TensorLayout l1 = TensorLayout.read(ByteSource.of(held)).orElseThrow();
        TensorLayout l2 = TensorLayout.read(ByteSource.of(target)).orElseThrow();
        assertTrue(
                TensorDelta.map(new TensorDelta.Pairing(m1, l1, l2), 0, target.length, TensorDelta.Transform.DIFFERENCE)
                        .isEmpty(),
                "same bytes, other shape or type: not the same tensor");
    }

    @Test
    void aFrameThatDoesNotHoldTogetherIsChunkCorrupt() {
        byte[] ref = new byte[4096];
        new Random(1).nextBytes(ref);
        byte[] target = ref.clone();
        target[100]++;
        List<TensorDelta.Segment> segments = List.of(
                TensorDelta.Segment.literal(16),
                new TensorDelta.Segment(TensorDelta.Transform.DIFFERENCE, 4064, 4, 16),
                TensorDelta.Segment.literal(16));
        byte[] frame = TensorDelta.encode(target, segments, ref, ref.length, 3);
        assertArrayEquals(target, TensorDelta.decode(frame, ref, ref.length, target.length));

        List<byte[]> bad = new ArrayList<>();
        bad.add(Arrays.copyOf(frame, frame.length - 3)); // cut short
        bad.add(Arrays.copyOf(frame, 12)); // header only
        byte[] pastReference = frame.clone();
        // the tensor segment's reference offset (after magic, format, length, coded length, count, literal
        // segment, its kind, length and width) pointed past the reference
        int offsetAt = 4 + 1 + 4 + 4 + 2 + 5 + 1 + 4 + 1;
        pastReference[offsetAt] = 0x7f;
        bad.add(pastReference);
        byte[] unknownTransform = frame.clone();
        unknownTransform[4 + 1 + 4 + 4 + 2 + 5] = 9;
        bad.add(unknownTransform);
        byte[] oddWidth = frame.clone();
        oddWidth[4 + 1 + 4 + 4 + 2 + 5 + 1 + 4] = 3;
        bad.add(oddWidth);
        for (byte[] b : bad) {
            assertEquals(
                    ErrorCode.CHUNK_CORRUPT,
                    assertThrows(OutpostException.class, () -> TensorDelta.decode(b, ref, ref.length, target.length))
                            .code());
        }
        // A class segment: its raw bits follow the coded part to the end of the frame, so a cut or an extra byte
        // there is caught too.
        byte[] classes = TensorDelta.encode(
                target,
                List.of(
                        TensorDelta.Segment.literal(16),
                        new TensorDelta.Segment(TensorDelta.Transform.CLASSES, 4064, 4, 16, 23, 8),
                        TensorDelta.Segment.literal(16)),
                ref,
                ref.length,
                3);
        assertArrayEquals(target, TensorDelta.decode(classes, ref, ref.length, target.length));
        for (byte[] b :
                List.of(Arrays.copyOf(classes, classes.length - 1), Arrays.copyOf(classes, classes.length + 1))) {
            assertEquals(
                    ErrorCode.CHUNK_CORRUPT,
                    assertThrows(OutpostException.class, () -> TensorDelta.decode(b, ref, ref.length, target.length))
                            .code());
        }
        // A device decodes every frame of an install with one zstd context: a frame that fails leaves it fit for the
        // next one.
        try (ZstdDecompressCtx zstd = new ZstdDecompressCtx()) {
            // A frame decodes where it lies in a larger array (a batch of frames), and only from its own bytes.
            byte[] batch = new byte[7 + classes.length + 9];
            new Random(2).nextBytes(batch);
            System.arraycopy(classes, 0, batch, 7, classes.length);
            assertArrayEquals(
                    target, TensorDelta.decode(batch, 7, classes.length, ref, ref.length, target.length, zstd));
            assertThrows(
                    OutpostException.class,
                    () -> TensorDelta.decode(batch, 7, classes.length - 1, ref, ref.length, target.length, zstd));
            for (byte[] b : bad) {
                assertThrows(OutpostException.class, () -> TensorDelta.decode(b, ref, ref.length, target.length, zstd));
                assertArrayEquals(target, TensorDelta.decode(classes, ref, ref.length, target.length, zstd));
                assertArrayEquals(target, TensorDelta.decode(frame, ref, ref.length, target.length, zstd));
            }
        }
        assertEquals(
                ErrorCode.CHUNK_CORRUPT,
                assertThrows(
                                OutpostException.class,
                                () -> TensorDelta.decode(frame, ref, ref.length, target.length + 1))
                        .code(),
                "a frame for a chunk of another length");
        assertEquals(
                ErrorCode.CHUNK_CORRUPT,
                assertThrows(OutpostException.class, () -> TensorDelta.decode(frame, ref, 1000, target.length))
                        .code(),
                "a reference shorter than the segments need");
    }

    @Test
    void onlyWellFormedSafetensorsHaveALayout() throws IOException {
        byte[] good =
                file(List.of(new TensorLayout.Tensor("w", "F32", new long[] {2, 3}, 0, 24)), List.of(new byte[24]));
        assertEquals(
                1,
                TensorLayout.read(ByteSource.of(good)).orElseThrow().tensors().size());
        List<String> headers = List.of(
                "{\"w\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,20]}}", // shape does not fill it
                "{\"w\":{\"dtype\":\"Q4\",\"shape\":[2,3],\"data_offsets\":[0,24]}}", // dtype not known
                "{\"w\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,240]}}", // past the end
                "{\"w\":{\"dtype\":\"F32\",\"shape\":[6],\"data_offsets\":[0,24]},"
                        + "\"v\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[16,24]}}", // overlapping
                "[1,2,3]",
                "{\"w\":");
        for (String h : headers) {
            byte[] text = h.getBytes(StandardCharsets.UTF_8);
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            for (int i = 0; i < 8; i++) {
                out.write((int) ((long) text.length >>> (8 * i)));
            }
            out.writeBytes(text);
            out.writeBytes(new byte[24]);
            assertTrue(TensorLayout.read(ByteSource.of(out.toByteArray())).isEmpty(), h);
        }
        byte[] huge = good.clone();
        huge[7] = 0x7f; // a header length of exabytes
        assertTrue(TensorLayout.read(ByteSource.of(huge)).isEmpty());
        assertTrue(TensorLayout.read(ByteSource.of(new byte[5])).isEmpty());
        assertTrue(TensorLayout.read(ByteSource.of(SyntheticWeights.bytes(1, 1 << 16, false)))
                .isEmpty());
    }

    private static byte[] file(List<TensorLayout.Tensor> tensors, List<byte[]> data) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.writeBytes(TensorLayout.header(tensors));
        data.forEach(out::writeBytes);
        return out.toByteArray();
    }
}
