package dev.outpost.sync;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outpost.model.change.Change;
import dev.outpost.model.change.FieldValue;
import dev.outpost.model.change.Op;
import dev.outpost.model.merge.RowMerge;
import dev.outpost.model.merge.RowState;
import dev.outpost.model.merge.RowView;
import dev.outpost.model.schema.Schema;
import dev.outpost.model.schema.SchemaLoader;
import dev.outpost.sync.sync.SyncService;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.mutiny.sqlclient.Tuple;
import jakarta.inject.Inject;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.Test;

/**
 * Plain SQL on the typed tables (as psql or a reporting tool's write-back would) becomes server changes that reach
 * devices, merged by the schema's policies, without looping back; a change of id or scope fails the statement.
 */
@QuarkusTest
@QuarkusTestResource(value = PostgresResource.class, restrictToAnnotatedClass = false)
class SqlWritesIT {
    private static final Schema SCHEMA = SchemaLoader.farmExample();

    @Inject
    Pool pool;

    private void sql(String statement, Object... args) {
        pool.preparedQuery(statement).execute(Tuple.from(args)).await().indefinitely();
    }

    /** Waits (10 s at most) until the service has taken every queued SQL write. */
    private void awaitApplied() throws InterruptedException {
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (true) {
            long queued = pool.query("select count(*) as n from data_write where refused is null")
                    .execute()
                    .await()
                    .indefinitely()
                    .iterator()
                    .next()
                    .getLong("n");
            if (queued == 0) {
                return;
            }
            assertTrue(System.nanoTime() < deadline, queued + " SQL writes still queued after 10 s");
            Thread.sleep(50);
        }
    }

    /** The device's view of every row it pulled, merged as a device merges. */
    private static Map<String, RowState> merged(Map<String, RowState> rows, List<Change> pulled) {
        for (Change c : pulled) {
            String key = c.table() + "/" + c.rowId();
            RowState at = rows.getOrDefault(key, RowState.empty(c.table(), c.rowId(), c.scope()));
            rows.put(key, RowMerge.apply(SCHEMA.table(c.table()), at, c).row());
        }
        return rows;
    }

    private static Object value(Map<String, RowState> rows, String table, String id, String field) {
        var f = rows.get(table + "/" + id).field(field);
        return f == null ? null : RowView.valueOf(f);
    }

    @Test
    void sqlWritesReachDevicesMergedAndNeverLoopBack() throws Exception {
        String scope = "sql-" + UUID.randomUUID().toString().substring(0, 8);
        String f1 = scope + "-f1", c1 = scope + "-c1", f9 = scope + "-f9";
        TestDevice tablet = TestDevice.register("sql-tablet", scope);
        List<Change> own = List.of(
                tablet.assign("farmer", f1, scope, "name", new FieldValue.Text("Njeri")),
                tablet.assign("crop_record", c1, scope, "stage", new FieldValue.Int(2)),
                new Change("crop_record", c1, scope, "bags_harvested", new Op.CounterTotal(5), tablet.clock.now()),
                new Change("crop_record", c1, scope, "pests", new Op.SetAdd("aphids"), tablet.clock.now()));
        // The tablet's rows: its own writes (a device never gets them back) and what it pulls, a push's answer too.
        Map<String, RowState> device = merged(new HashMap<>(), own);
        merged(device, tablet.push(own).changes());
        merged(device, tablet.pullAll());

        sql("update outpost_data.farmer set phone = '+254700000077' where id = $1", f1);
        sql(
                "update outpost_data.crop_record set bags_harvested = bags_harvested + 3,"
                        + " pests = array_append(pests, 'armyworm') where id = $1",
                c1);
        // The tablet, meanwhile, adds two bags of its own.
        Change seven =
                new Change("crop_record", c1, scope, "bags_harvested", new Op.CounterTotal(7), tablet.clock.now());
        // A push pulls too: when the service took the office's first writes before it, they come in its answer (a
        // test that dropped that answer waited in vain for f1's phone, about one run in fifty).
        List<Change> pulled = new ArrayList<>(tablet.push(List.of(seven)).changes());
        merged(device, List.of(seven));
        merged(device, pulled);
        sql(
                "insert into outpost_data.farmer (id, district, name, village, _changed_at) values ($1, $2, 'Chebet',"
                        + " 'Molo', now())",
                f9,
                scope);
        awaitApplied();

        // A pull reads the feed up to the oldest transaction still running anywhere in the database (its watermark),
        // so a batch just committed may show one pull later: pulled until each of the office's writes is in.
        long deadline = System.nanoTime() + 10_000_000_000L;
        do {
            List<Change> page = tablet.pullAll();
            pulled.addAll(page);
            merged(device, page); // the tablet's own total (7) merges with the server's +3
        } while (!(device.containsKey("farmer/" + f9)
                        && value(device, "farmer", f1, "phone") != null
                        && new FieldValue.Int(10).equals(value(device, "crop_record", c1, "bags_harvested")))
                && System.nanoTime() < deadline);
        assertTrue(
                pulled.stream().allMatch(c -> SyncService.isServerNode(c.deviceId())),
                "only the office's changes come");
        assertEquals(new FieldValue.Text("+254700000077"), value(device, "farmer", f1, "phone"));
        assertEquals(new FieldValue.Int(10), value(device, "crop_record", c1, "bags_harvested"));
        assertEquals(new FieldValue.Json("[\"aphids\",\"armyworm\"]"), value(device, "crop_record", c1, "pests"));
        assertEquals(new FieldValue.Text("Chebet"), value(device, "farmer", f9, "name"));
        var typed = pool.preparedQuery("select bags_harvested from outpost_data.crop_record where id = $1")
                .execute(Tuple.of(c1))
                .await()
                .indefinitely()
                .iterator()
                .next();
        assertEquals(10L, typed.getLong("bags_harvested"), "the typed row shows the merged total");

        // The service's own writes did not queue anything back: a second pull is empty.
        awaitApplied();
        assertEquals(List.of(), tablet.pullAll());

        sql("delete from outpost_data.farmer where id = $1", f9);
        awaitApplied();
        List<Change> deletes = new ArrayList<>();
        deadline = System.nanoTime() + 10_000_000_000L;
        while (deletes.isEmpty() && System.nanoTime() < deadline) {
            deletes.addAll(tablet.pullAll());
        }
        assertEquals(1, deletes.size(), deletes.toString());
        assertTrue(deletes.getFirst().op() instanceof Op.Delete);

        // What SQL may not do: the statement fails whole, nothing queued.
        List<String> refused = new ArrayList<>();
        for (String[] bad : List.of(
                new String[] {"update outpost_data.farmer set id = 'other' where id = $1", f1},
                new String[] {"update outpost_data.farmer set district = 'elsewhere' where id = $1", f1},
                new String[] {
                    "insert into outpost_data.farmer (id, district, _changed_at) values ('bad id!', $1, now())", scope
                })) {
            Exception e = assertThrows(Exception.class, () -> sql(bad[0], bad[1]));
            refused.add(e.getMessage());
        }
        assertTrue(refused.get(0).contains("id never changes"), refused.toString());
        assertTrue(refused.get(1).contains("never changes scope"), refused.toString());
        assertTrue(refused.get(2).contains("row id is"), refused.toString());
        awaitApplied();
        assertEquals(List.of(), tablet.pullAll());
    }
}
