package dev.outpost.sync;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import org.junit.jupiter.api.Test;

/**
 * The service's layering (STYLE.md): resources are thin and sit on top; services hold the logic; the store knows
 * SQL and nothing of HTTP; the shared core stays free of the file system, JDBC and the network.
 */
class ArchitectureTest {
    private static final JavaClasses CODE = new ClassFileImporter()
            .withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
            .withImportOption(location -> !location.contains("-tests.jar"))
            .importPackages("dev.outpost.sync", "dev.outpost.model");

    @Test
    void theStoreNeverReachesTheApi() {
        noClasses()
                .that()
                .resideInAPackage("dev.outpost.sync.store..")
                .should()
                .dependOnClassesThat()
                .resideInAPackage("dev.outpost.sync.api..")
                .because("a store fails with OutpostException and its code; the API maps codes to problem answers")
                .check(CODE);
    }

    @Test
    void servicesAndStoresNeverReachTheResources() {
        noClasses()
                .that()
                .resideInAnyPackage(
                        "dev.outpost.sync.sync..",
                        "dev.outpost.sync.store..",
                        "dev.outpost.sync.artifact..",
                        "dev.outpost.sync.rollout..",
                        "dev.outpost.sync.admin..")
                .should()
                .dependOnClassesThat()
                .haveSimpleNameEndingWith("Resource")
                .check(CODE);
    }

    @Test
    void theSharedCoreUsesNoFileSystemJdbcOrNetwork() {
        noClasses()
                .that()
                .resideInAPackage("dev.outpost.model..")
                .should()
                .dependOnClassesThat()
                .resideInAnyPackage("java.nio.file..", "java.sql..", "java.net..", "io.quarkus..", "io.smallrye..")
                .because("shared-model runs on the server and in the device binary, and is tested without either")
                .check(CODE);
    }
}
