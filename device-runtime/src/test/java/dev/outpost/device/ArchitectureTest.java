package dev.outpost.device;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import org.junit.jupiter.api.Test;

/**
 * The layering of the device module (device-runtime/README.md, "Layout"): the core works through ports and never
 * reaches an adapter, a driver or the network; only the composition root and the command line wire adapters; and the
 * shared core stays free of the file system, JDBC and the network.
 */
class ArchitectureTest {
    private static final JavaClasses CODE = new ClassFileImporter()
            .withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
            .withImportOption(location -> !location.contains("-tests.jar")) // shared-model's test helpers
            .importPackages("dev.outpost.device", "dev.outpost.model");

    private static final String[] CORE = {
        "dev.outpost.device.rows..",
        "dev.outpost.device.clock..",
        "dev.outpost.device.sync..",
        "dev.outpost.device.store..",
        "dev.outpost.device.render.."
    };

    @Test
    void theCoreReachesNoAdapterDriverOrNetwork() {
        noClasses()
                .that()
                .resideInAnyPackage(CORE)
                .should()
                .dependOnClassesThat()
                .resideInAnyPackage(
                        "dev.outpost.device.sqlite..", "dev.outpost.device.http..", "java.sql..", "java.net..")
                .because("the core is tested over in-memory ports; adapters are wired by the composition root")
                .check(CODE);
    }

    @Test
    void onlyTheCompositionRootWiresTheSqliteAdapters() {
        noClasses()
                .that()
                .resideOutsideOfPackages("dev.outpost.device.sqlite..")
                .and()
                .doNotHaveFullyQualifiedName(OutpostDevice.class.getName())
                .should()
                .dependOnClassesThat()
                .resideInAPackage("dev.outpost.device.sqlite..")
                .because("a second place that opens the database would bypass the migrations and the ports")
                .check(CODE);
    }

    /** The ports may name the install's typed state ({@code model.install}), nothing else of their callers. */
    @Test
    void thePortsKnowNothingOfTheirCallers() {
        noClasses()
                .that()
                .resideInAPackage("dev.outpost.device.store..")
                .should()
                .dependOnClassesThat()
                .resideInAnyPackage(
                        "dev.outpost.device.rows..",
                        "dev.outpost.device.sync..",
                        "dev.outpost.device.model",
                        "dev.outpost.device.model.trust..",
                        "dev.outpost.device.model.reports..",
                        "dev.outpost.device.cli..",
                        "dev.outpost.device.run..")
                .check(CODE);
    }

    @Test
    void trustIsPure() {
        noClasses()
                .that()
                .resideInAPackage("dev.outpost.device.model.trust..")
                .should()
                .dependOnClassesThat()
                .resideInAnyPackage(
                        "dev.outpost.device.store..",
                        "dev.outpost.device.sqlite..",
                        "dev.outpost.device.http..",
                        "java.nio.file..",
                        "java.sql..",
                        "java.net..")
                .because("what a device may install is decided from the documents and marks alone")
                .check(CODE);
    }

    @Test
    void theSharedCoreUsesNoFileSystemJdbcOrNetwork() {
        noClasses()
                .that()
                .resideInAPackage("dev.outpost.model..")
                .should()
                .dependOnClassesThat()
                .resideInAnyPackage("java.nio.file..", "java.sql..", "java.net..")
                .because("shared-model runs on the server and in the device binary, and is tested without either")
                .check(CODE);
    }
}
