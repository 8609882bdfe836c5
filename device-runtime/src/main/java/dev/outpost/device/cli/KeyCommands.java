package dev.outpost.device.cli;

import dev.outpost.device.DeviceException;
import dev.outpost.device.ExitCode;
import dev.outpost.model.OutpostException;
import dev.outpost.model.artifact.KeyDelegation;
import dev.outpost.model.artifact.SigningKeys;
import java.io.IOException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.PublicKey;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;

/**
 * {@code outpost keys}: the operator's offline key ceremony (docs/SECURITY.md, "Model trust"), run on a machine that
 * is not the service. {@code root} makes the root key; {@code online} makes a signing key for the service and the
 * delegation the root signs for it; {@code delegate} signs a fresh delegation for keys the service has already (to
 * renew one before it expires). The root's private key stays in the file {@code root} writes.
 */
final class KeyCommands {
    private KeyCommands() {}

    static final String ROOT_KEY = "root.key";
    static final String ROOT_PUB = "root.pub";

    static int root(Invocation in) {
        Path out = Path.of(in.<String>option("--out"));
        SigningKeys root = SigningKeys.generate();
        try {
            Files.createDirectories(out);
            writeSecret(out.resolve(ROOT_KEY), root.privateBase64() + "\n" + root.publicBase64() + "\n");
            Files.writeString(out.resolve(ROOT_PUB), root.publicBase64() + "\n");
        } catch (FileAlreadyExistsException e) {
            throw new DeviceException(
                    ExitCode.BAD_INPUT, out.resolve(ROOT_KEY) + " exists already: a root key is made once");
        } catch (IOException e) {
            throw new DeviceException(ExitCode.STORAGE, "cannot write the root key in " + out + ": " + e.getMessage());
        }
        in.out()
                .println("root key " + root.keyId() + " written to " + out.resolve(ROOT_KEY)
                        + " (keep it offline); devices are set up with: outpost init ... --root-key "
                        + out.resolve(ROOT_PUB));
        return 0;
    }

    static int online(Invocation in) {
        SigningKeys root = readRoot(in.option("--root"));
        Path out = Path.of(in.<String>option("--out"));
        SigningKeys online = SigningKeys.generate();
        List<PublicKey> keys = new ArrayList<>();
        keys.add(online.publicKey());
        keys.addAll(publicKeys(in.values(in.option("--also")), "--also"));
        String delegation = delegation(root, keys, in.option("--days"));
        String env = "OUTPOST_ARTIFACTS_SIGNING_KEY_PRIVATE=" + online.privateBase64() + "\n"
                + "OUTPOST_ARTIFACTS_SIGNING_KEY_PUBLIC=" + online.publicBase64() + "\n"
                + "OUTPOST_ARTIFACTS_KEY_DELEGATION=" + delegation + "\n"
                + "OUTPOST_ARTIFACTS_ROOT_KEY=" + root.publicBase64() + "\n";
        try {
            Files.createDirectories(out);
            writeSecret(out.resolve("service.env"), env);
        } catch (FileAlreadyExistsException e) {
            throw new DeviceException(
                    ExitCode.BAD_INPUT, out.resolve("service.env") + " exists already; give another --out");
        } catch (IOException e) {
            throw new DeviceException(ExitCode.STORAGE, "cannot write " + out + ": " + e.getMessage());
        }
        in.out()
                .println("signing key " + online.keyId() + " delegated by root " + root.keyId() + " until "
                        + expiry(delegation) + "; the service's settings are in " + out.resolve("service.env"));
        return 0;
    }

    static int delegate(Invocation in) {
        SigningKeys root = readRoot(in.option("--root"));
        List<PublicKey> keys = publicKeys(in.values(in.option("--key")), "--key");
        if (keys.isEmpty()) {
            throw new DeviceException(ExitCode.BAD_INPUT, "name the keys to delegate with --key");
        }
        in.out().println(delegation(root, keys, in.option("--days")));
        return 0;
    }

    private static String delegation(SigningKeys root, List<PublicKey> keys, Integer days) {
        if (days == null || days < 1 || days > 3660) {
            throw new DeviceException(ExitCode.BAD_INPUT, "--days must be 1 to 3660");
        }
        long now = System.currentTimeMillis();
        try {
            KeyDelegation d =
                    new KeyDelegation(keys, now, now + Duration.ofDays(days).toMillis());
            return Base64.getEncoder().encodeToString(d.sign(root).encode());
        } catch (IllegalArgumentException e) {
            throw new DeviceException(ExitCode.BAD_INPUT, e.getMessage());
        }
    }

    private static Instant expiry(String delegation) {
        return Instant.ofEpochMilli(KeyDelegation.decode(dev.outpost.model.artifact.SignedEnvelope.decode(
                                Base64.getDecoder().decode(delegation))
                        .payload())
                .expiresAtMs());
    }

    private static List<PublicKey> publicKeys(List<String> given, String option) {
        List<PublicKey> keys = new ArrayList<>();
        for (String k : given) {
            try {
                keys.add(SigningKeys.decodePublic(k));
            } catch (OutpostException e) {
                throw new DeviceException(ExitCode.BAD_INPUT, option + ": " + e.getMessage());
            }
        }
        return keys;
    }

    private static SigningKeys readRoot(String file) {
        try {
            List<String> lines = Files.readAllLines(Path.of(file));
            if (lines.size() < 2) {
                throw new DeviceException(ExitCode.BAD_INPUT, file + " is not a root key `outpost keys root` wrote");
            }
            return SigningKeys.decode(lines.get(0), lines.get(1));
        } catch (IOException e) {
            throw new DeviceException(ExitCode.BAD_INPUT, "cannot read --root " + file + ": " + e.getMessage());
        } catch (OutpostException e) {
            throw new DeviceException(ExitCode.BAD_INPUT, "--root " + file + ": " + e.getMessage());
        }
    }

    /** Creates {@code file} with mode 0600 before anything is written to it; an existing one is not replaced. */
    private static void writeSecret(Path file, String text) throws IOException {
        Files.createFile(file, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        Files.writeString(file, text);
    }
}
