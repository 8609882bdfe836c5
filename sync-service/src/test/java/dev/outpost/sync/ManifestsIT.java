package dev.outpost.sync;

import static io.restassured.RestAssured.given;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.outpost.model.change.FieldValue;
import dev.outpost.sync.sync.SyncLagMetrics;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.yaml.snakeyaml.Yaml;

/**
 * The Kubernetes manifests as a cluster would get them: every overlay rendered by {@code kubectl kustomize} (the
 * kustomize built into Debian's kubectl) and checked for what an operator relies on (probes, resources, a locked-down
 * security context, secrets referenced and never included), production's shape (replicas, disruption budget, TLS
 * ingress, network policy, metrics scraping, its PostgreSQL cluster), no secret value anywhere under {@code k8s/},
 * and the Grafana dashboard asking only for metrics this service exports.
 */
@QuarkusTest
@QuarkusTestResource(value = PostgresResource.class, restrictToAnnotatedClass = false)
class ManifestsIT {
    private static final Path K8S = Path.of("../k8s");
    private static final List<String> OVERLAYS = List.of("base", "overlays/dev", "overlays/production");

    @Inject
    SyncLagMetrics lag;

    @SuppressWarnings("unchecked")
    private static List<Map<String, Object>> render(String overlay) throws Exception {
        Process p = new ProcessBuilder(
                        "kubectl", "kustomize", K8S.resolve(overlay).toString())
                .redirectErrorStream(true)
                .start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "kubectl kustomize did not finish");
        assertEquals(0, p.exitValue(), "kubectl kustomize " + overlay + ":\n" + out);
        List<Map<String, Object>> docs = new ArrayList<>();
        for (Object doc : new Yaml().loadAll(out)) {
            if (doc != null) {
                docs.add((Map<String, Object>) doc);
            }
        }
        return docs;
    }

    private static List<Map<String, Object>> ofKind(List<Map<String, Object>> docs, String kind) {
        return docs.stream().filter(d -> kind.equals(d.get("kind"))).toList();
    }

    private static Map<String, Object> one(List<Map<String, Object>> docs, String kind) {
        List<Map<String, Object>> found = ofKind(docs, kind);
        assertEquals(1, found.size(), "one " + kind);
        return found.getFirst();
    }

    @SuppressWarnings("unchecked")
    private static Object at(Object node, String... path) {
        for (String key : path) {
            if (!(node instanceof Map<?, ?> m)) {
                return null;
            }
            node = ((Map<String, Object>) m).get(key);
        }
        return node;
    }

    @SuppressWarnings("unchecked")
    private static List<Map<String, Object>> list(Object node) {
        return node == null ? List.of() : (List<Map<String, Object>>) node;
    }

    /** The Secrets the templates in k8s/secrets define, by name, with their keys. */
    @SuppressWarnings("unchecked")
    private static Map<String, Set<String>> templates() throws IOException {
        Map<String, Set<String>> out = new HashMap<>();
        try (Stream<Path> files = Files.list(K8S.resolve("secrets"))) {
            for (Path f :
                    files.filter(f -> f.toString().endsWith(".template.yaml")).toList()) {
                Map<String, Object> secret = new Yaml().load(Files.readString(f));
                out.put(
                        (String) at(secret, "metadata", "name"),
                        new TreeSet<>(((Map<String, Object>) secret.get("stringData")).keySet()));
            }
        }
        return out;
    }

    @Test
    void everyOverlayRendersWithProbesResourcesALockedDownContextAndOnlyKnownSecrets() throws Exception {
        Map<String, Set<String>> templates = templates();
        for (String overlay : OVERLAYS) {
            List<Map<String, Object>> docs = render(overlay);
            assertEquals(List.of(), ofKind(docs, "Secret"), overlay + ": secrets are never part of the manifests");
            boolean cnpg = !ofKind(docs, "Cluster").isEmpty();
            Map<String, Object> deployment = one(docs, "Deployment");
            Object pod = at(deployment, "spec", "template", "spec");
            assertEquals(true, at(pod, "securityContext", "runAsNonRoot"), overlay);
            for (Map<String, Object> c : list(at(pod, "containers"))) {
                String where = overlay + " container " + c.get("name");
                assertEquals("/q/health/ready", at(c, "readinessProbe", "httpGet", "path"), where);
                assertEquals("/q/health/live", at(c, "livenessProbe", "httpGet", "path"), where);
                assertNotNull(at(c, "resources", "requests", "cpu"), where + ": a CPU request");
                assertNotNull(at(c, "resources", "requests", "memory"), where + ": a memory request");
                assertNotNull(at(c, "resources", "limits", "memory"), where + ": a memory limit");
                assertEquals(false, at(c, "securityContext", "allowPrivilegeEscalation"), where);
                assertEquals(true, at(c, "securityContext", "readOnlyRootFilesystem"), where);
                assertEquals(List.of("ALL"), at(c, "securityContext", "capabilities", "drop"), where);
                Set<String> env = new TreeSet<>();
                for (Map<String, Object> e : list(c.get("env"))) {
                    env.add((String) e.get("name"));
                    Object ref = at(e, "valueFrom", "secretKeyRef");
                    if (ref == null) {
                        continue;
                    }
                    String name = (String) at(ref, "name");
                    String key = (String) at(ref, "key");
                    if (cnpg && name.endsWith("-app")) {
                        assertTrue(
                                Set.of("username", "password").contains(key),
                                where + ": CloudNativePG's app secret has no key " + key);
                    } else {
                        assertTrue(templates.containsKey(name), where + ": no template for secret " + name);
                        assertTrue(templates.get(name).contains(key), where + ": secret " + name + " has no " + key);
                    }
                }
                assertTrue(env.contains("OUTPOST_REPLICA_ID"), where + ": each replica names itself");
                assertTrue(
                        env.containsAll(List.of(
                                "QUARKUS_DATASOURCE_REACTIVE_URL",
                                "QUARKUS_DATASOURCE_JDBC_URL",
                                "QUARKUS_DATASOURCE_USERNAME",
                                "QUARKUS_DATASOURCE_PASSWORD")),
                        where + ": a configured database");
            }
        }
    }

    @Test
    @SuppressWarnings("unchecked")
    void productionRunsSeveralReplicasBehindTlsWithADisruptionBudgetAndItsOwnDatabase() throws Exception {
        List<Map<String, Object>> docs = render("overlays/production");
        Map<String, Object> deployment = one(docs, "Deployment");
        int replicas = (Integer) at(deployment, "spec", "replicas");
        assertTrue(replicas >= 2, "replicas: " + replicas);
        Map<String, Object> podLabels = (Map<String, Object>) at(deployment, "spec", "template", "metadata", "labels");

        Map<String, Object> pdb = one(docs, "PodDisruptionBudget");
        int minAvailable = (Integer) at(pdb, "spec", "minAvailable");
        assertTrue(minAvailable >= 1 && minAvailable < replicas, "minAvailable " + minAvailable + " of " + replicas);
        assertSelects((Map<String, Object>) at(pdb, "spec", "selector", "matchLabels"), podLabels, "the PDB");
        assertTrue((Integer) at(one(docs, "HorizontalPodAutoscaler"), "spec", "minReplicas") >= 2);

        Map<String, Object> ingress = one(docs, "Ingress");
        List<Map<String, Object>> tls = list(at(ingress, "spec", "tls"));
        assertFalse(tls.isEmpty(), "the ingress serves TLS");
        Set<Object> tlsHosts = new TreeSet<>();
        tls.forEach(t -> tlsHosts.addAll((List<Object>) t.get("hosts")));
        for (Map<String, Object> rule : list(at(ingress, "spec", "rules"))) {
            assertTrue(tlsHosts.contains(rule.get("host")), "host " + rule.get("host") + " without TLS");
        }

        Map<String, Object> policy = one(docs, "NetworkPolicy");
        assertEquals(List.of("Ingress", "Egress"), at(policy, "spec", "policyTypes"));
        assertSelects((Map<String, Object>) at(policy, "spec", "podSelector", "matchLabels"), podLabels, "the policy");

        Map<String, Object> monitor = one(docs, "ServiceMonitor");
        Map<String, Object> wanted = (Map<String, Object>) at(monitor, "spec", "selector", "matchLabels");
        Map<String, Object> metricsService = ofKind(docs, "Service").stream()
                .filter(s -> ((Map<String, Object>) at(s, "metadata", "labels"))
                        .entrySet()
                        .containsAll(wanted.entrySet()))
                .findFirst()
                .orElseThrow(() -> new AssertionError("the ServiceMonitor selects no Service"));
        assertSelects((Map<String, Object>) at(metricsService, "spec", "selector"), podLabels, "the metrics Service");
        String port = (String) list(at(monitor, "spec", "endpoints")).getFirst().get("port");
        assertTrue(
                list(at(metricsService, "spec", "ports")).stream().anyMatch(p -> port.equals(p.get("name"))),
                "the metrics Service has the port the ServiceMonitor scrapes");

        Map<String, Object> cluster = one(docs, "Cluster");
        assertTrue((Integer) at(cluster, "spec", "instances") >= 2, "PostgreSQL with a standby");
        String rw = at(cluster, "metadata", "name") + "-rw";
        Map<String, Object> container =
                list(at(deployment, "spec", "template", "spec", "containers")).getFirst();
        String url = list(container.get("env")).stream()
                .filter(e -> "QUARKUS_DATASOURCE_REACTIVE_URL".equals(e.get("name")))
                .map(e -> (String) e.get("value"))
                .findFirst()
                .orElseThrow();
        assertTrue(url.contains("//" + rw + ":"), "the service uses the cluster's primary: " + url);

        // Blobs in a bucket every replica reads: no shared volume, the store and bucket configured, its key a secret.
        assertTrue(ofKind(docs, "PersistentVolumeClaim").isEmpty(), "production mounts no shared volume");
        assertTrue(
                list(at(deployment, "spec", "template", "spec", "volumes")).stream()
                        .noneMatch(v -> v.containsKey("persistentVolumeClaim")),
                "no pod volume is a claim");
        Map<String, Object> config = (Map<String, Object>) ofKind(docs, "ConfigMap").stream()
                .filter(c -> ((String) at(c, "metadata", "name")).startsWith("outpost-sync-config"))
                .map(c -> at(c, "data"))
                .findFirst()
                .orElseThrow();
        assertEquals("s3", config.get("OUTPOST_ARTIFACTS_STORE"));
        assertNotNull(config.get("OUTPOST_ARTIFACTS_S3_BUCKET"), "a bucket is named");
        Map<String, Object> secretKey = list(container.get("env")).stream()
                .filter(e -> "OUTPOST_ARTIFACTS_S3_SECRET_ACCESS_KEY".equals(e.get("name")))
                .findFirst()
                .orElseThrow(() -> new AssertionError("the bucket's key is not given"));
        assertNotNull(at(secretKey, "valueFrom", "secretKeyRef"), "the bucket's key comes from a Secret");
    }

    private static void assertSelects(Map<String, Object> selector, Map<String, Object> labels, String what) {
        assertNotNull(selector, what + " has a selector");
        assertFalse(selector.isEmpty(), what + " selects something");
        assertTrue(labels.entrySet().containsAll(selector.entrySet()), what + " selects the service's pods");
    }

    /** Runs of base64 long enough to be key material (a path's lowercase words are not), and PEM blocks. */
    private static final Pattern KEY_LIKE = Pattern.compile("[A-Za-z0-9+/]{40,}={0,2}|-----BEGIN [A-Z ]*PRIVATE KEY");

    private static boolean keyLike(String run) {
        return run.startsWith("-----")
                || run.chars().anyMatch(Character::isDigit)
                        && run.chars().anyMatch(Character::isUpperCase)
                        && run.chars().anyMatch(Character::isLowerCase);
    }

    @Test
    @SuppressWarnings("unchecked")
    void noSecretValueIsInTheRepository() throws Exception {
        assertFalse(templates().isEmpty());
        try (Stream<Path> files = Files.list(K8S.resolve("secrets"))) {
            for (Path f :
                    files.filter(f -> f.toString().endsWith(".template.yaml")).toList()) {
                Map<String, Object> secret = new Yaml().load(Files.readString(f));
                ((Map<String, Object>) secret.get("stringData"))
                        .forEach((k, v) -> assertTrue(
                                String.valueOf(v).matches("<[^<>]+>"), f + ": " + k + " is not a <placeholder>"));
            }
        }
        try (Stream<Path> files = Files.walk(K8S)) {
            for (Path f : files.filter(Files::isRegularFile).toList()) {
                Matcher m = KEY_LIKE.matcher(Files.readString(f));
                while (m.find()) {
                    assertFalse(keyLike(m.group()), f + " holds what looks like a key: " + m.group());
                }
            }
        }
    }

    /** Metric names in PromQL: the service's own, and the framework's the dashboard uses. */
    private static final Pattern METRIC = Pattern.compile(
            "\\b(outpost_[a-z_]+|http_server_requests_seconds_[a-z]+|jvm_[a-z_]+|process_[a-z_]+|system_[a-z_]+)\\b");

    @Test
    void theDashboardAsksOnlyForMetricsTheServiceExports() throws Exception {
        JsonNode dashboard = new ObjectMapper()
                .readTree(K8S.resolve("monitoring/outpost-sync-dashboard.json").toFile());
        Set<String> asked = new TreeSet<>();
        for (JsonNode panel : dashboard.get("panels")) {
            for (JsonNode target : panel.get("targets")) {
                Matcher m = METRIC.matcher(target.get("expr").asText());
                while (m.find()) {
                    asked.add(m.group(1));
                }
            }
        }
        assertTrue(asked.size() >= 10, "the dashboard's metrics: " + asked);
        // A device that synced, so that every meter exists (the per-device lag after a refresh).
        TestDevice d = TestDevice.register("dashboard", "nakuru");
        d.push(List.of(d.assign("farmer", UUID.randomUUID().toString(), "nakuru", "name", new FieldValue.Text("x"))));
        lag.refresh().await().indefinitely();
        String scrape =
                given().get("/q/metrics").then().statusCode(200).extract().asString();
        Set<String> exported = new TreeSet<>();
        for (String line : scrape.split("\n")) {
            if (!line.startsWith("#") && !line.isBlank()) {
                exported.add(line.split("[{ ]", 2)[0]);
            }
        }
        Set<String> missing = new TreeSet<>(asked);
        missing.removeAll(exported);
        assertEquals(Set.of(), missing, "metrics the dashboard asks for and the service does not export");
    }
}
