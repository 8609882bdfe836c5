package dev.outpost.model.order;

import dev.outpost.model.change.Change;
import dev.outpost.model.change.FieldValue;
import dev.outpost.model.change.Op;
import dev.outpost.model.schema.Column;
import dev.outpost.model.schema.ColumnType;
import dev.outpost.model.schema.Schema;
import dev.outpost.model.schema.Table;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Orders a batch of pulled changes for one transaction: writes parents before children (tables in the schema's
 * parent-first order), then deletes children before parents. Within a table the batch order (the feed order) is
 * kept. Also finds orphans: writes that point a reference at a row that will not exist.
 */
public final class ApplyOrder {
    private ApplyOrder() {}

    /** A reference to a row that is neither in the store nor created by the batch, or that is deleted. */
    public record Orphan(String table, String rowId, String field, String parentTable, String parentId) {}

    /** Answers whether a row exists (and is not deleted) in the local store before the batch. */
    @FunctionalInterface
    public interface RowPresence {
        boolean exists(String table, String rowId);
    }

    public static List<Change> sort(Schema schema, List<Change> batch) {
        Map<String, Integer> rank = new HashMap<>();
        List<String> order = schema.parentFirstOrder();
        for (int i = 0; i < order.size(); i++) {
            rank.put(order.get(i), i);
        }
        int tables = order.size();
        List<Change> sorted = new ArrayList<>(batch);
        // List.sort is stable: equal keys keep feed order.
        sorted.sort(Comparator.comparingInt(c -> {
            int r = rank.getOrDefault(c.table(), tables);
            return c.op() instanceof Op.Delete ? 2 * tables + (tables - r) : r;
        }));
        return sorted;
    }

    /**
     * The references in {@code batch} that will dangle after it is applied: the parent is not in the store and
     * the batch does not write it, or the batch deletes it.
     */
    public static List<Orphan> findOrphans(Schema schema, List<Change> batch, RowPresence store) {
        Set<String> written = new HashSet<>();
        Set<String> deleted = new HashSet<>();
        for (Change c : batch) {
            String key = c.table() + '\u0000' + c.rowId();
            if (c.op() instanceof Op.Delete) {
                deleted.add(key);
            } else {
                written.add(key);
            }
        }
        List<Orphan> orphans = new ArrayList<>();
        for (Change c : batch) {
            if (!(c.op() instanceof Op.Assign a)
                    || !(a.value() instanceof FieldValue.Text ref)
                    || deleted.contains(c.table() + '\u0000' + c.rowId())) {
                continue;
            }
            Table table = schema.tables().get(c.table());
            Column column = table == null ? null : table.columns().get(c.field());
            if (column == null || column.type() != ColumnType.REF) {
                continue;
            }
            String parentKey = column.refTable() + '\u0000' + ref.value();
            boolean present = !deleted.contains(parentKey)
                    && (written.contains(parentKey) || store.exists(column.refTable(), ref.value()));
            if (!present) {
                orphans.add(new Orphan(c.table(), c.rowId(), c.field(), column.refTable(), ref.value()));
            }
        }
        return orphans;
    }
}
