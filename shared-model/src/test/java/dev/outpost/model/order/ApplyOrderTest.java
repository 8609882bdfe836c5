package dev.outpost.model.order;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.outpost.model.change.Change;
import dev.outpost.model.change.FieldValue;
import dev.outpost.model.change.Op;
import dev.outpost.model.clock.Hlc;
import dev.outpost.model.schema.Schema;
import dev.outpost.model.schema.SchemaLoader;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

class ApplyOrderTest {
    private final Schema schema = SchemaLoader.farmExample();
    private int tick;

    private Change write(String table, String id, String field, String value) {
        return new Change(table, id, "n", field, new Op.Assign(new FieldValue.Text(value)), new Hlc(++tick, 0, "d"));
    }

    private Change delete(String table, String id) {
        return new Change(table, id, "n", null, Op.Delete.of(Map.of()), new Hlc(++tick, 0, "d"));
    }

    @Test
    void parentsAreWrittenBeforeChildrenAndDeletesComeLastChildrenFirst() {
        Change cropWrite = write("crop_record", "c1", "plot_id", "p1");
        Change farmerDelete = delete("farmer", "f0");
        Change plotWrite = write("plot", "p1", "farmer_id", "f1");
        Change cropDelete = delete("crop_record", "c0");
        Change farmerWrite = write("farmer", "f1", "name", "Amina");
        Change plotDelete = delete("plot", "p0");
        Change farmerWrite2 = write("farmer", "f2", "name", "Baraka");

        List<Change> sorted = ApplyOrder.sort(
                schema, List.of(cropWrite, farmerDelete, plotWrite, cropDelete, farmerWrite, plotDelete, farmerWrite2));

        assertEquals(
                List.of(farmerWrite, farmerWrite2, plotWrite, cropWrite, cropDelete, plotDelete, farmerDelete), sorted);
    }

    @Test
    void aChildWhoseParentIsMissingOrDeletedIsReported() {
        Change ok = write("plot", "p1", "farmer_id", "f1"); // f1 is in the store
        Change createdTogether = write("plot", "p2", "farmer_id", "f2");
        Change parent = write("farmer", "f2", "name", "Chebet");
        Change missing = write("plot", "p3", "farmer_id", "f9");
        Change deletedParent = write("crop_record", "c1", "plot_id", "p4");
        Change parentDelete = delete("plot", "p4");
        Set<String> store = Set.of("farmer/f1", "plot/p4");

        List<ApplyOrder.Orphan> orphans = ApplyOrder.findOrphans(
                schema,
                List.of(ok, createdTogether, parent, missing, deletedParent, parentDelete),
                (table, id) -> store.contains(table + "/" + id));

        assertEquals(
                List.of(
                        new ApplyOrder.Orphan("plot", "p3", "farmer_id", "farmer", "f9"),
                        new ApplyOrder.Orphan("crop_record", "c1", "plot_id", "plot", "p4")),
                orphans);
    }

    @Test
    void aChildDeletedInTheSameBatchIsNoOrphan() {
        Change child = write("plot", "p1", "farmer_id", "f1");
        List<ApplyOrder.Orphan> orphans = ApplyOrder.findOrphans(
                schema, List.of(child, delete("plot", "p1"), delete("farmer", "f1")), (t, id) -> true);
        assertEquals(List.of(), orphans);
    }
}
