package dev.outpost.device;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import org.junit.jupiter.api.Test;

/**
 * Keeps the device code native-image ready: no reflection, dynamic proxies or class loading outside what
 * {@code src-native-config} registers.
 */
class NativeReadinessTest {
    private static final JavaClasses DEVICE_CODE = new ClassFileImporter()
            .withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
            .importPackages("dev.outpost.device", "dev.outpost.model");

    @Test
    void noReflection() {
        noClasses()
                .should()
                .dependOnClassesThat()
                .resideInAnyPackage("java.lang.reflect..", "java.lang.invoke..")
                .because("native-image needs every reflective access registered")
                .check(DEVICE_CODE);
    }

    @Test
    void noDynamicClassLoading() {
        noClasses()
                .should()
                .callMethod(Class.class, "forName", String.class)
                .orShould()
                .callMethod(Class.class, "getDeclaredMethods")
                .orShould()
                .callMethod(Class.class, "getMethods")
                .orShould()
                .callMethod(Class.class, "newInstance")
                .orShould()
                .dependOnClassesThat()
                .areAssignableTo(ClassLoader.class)
                .because("native-image has no class loading at run time")
                .check(DEVICE_CODE);
    }

    @Test
    void commandsAreDeclaredWithoutPicocliAnnotations() {
        noClasses()
                .should()
                .dependOnClassesThat()
                .haveNameMatching("picocli\\.CommandLine\\$(Command|Option|Parameters|ParentCommand|Spec|Mixin)")
                .because("picocli reads its annotations by reflection, which makes the JVM generate proxy and"
                        + " method-handle classes at every start (docs/BENCHMARKS.md, startup)")
                .check(DEVICE_CODE);
    }

    @Test
    void noJacksonDatabind() {
        noClasses()
                .should()
                .dependOnClassesThat()
                .resideInAnyPackage("com.fasterxml.jackson.databind..")
                .because("databind serializes by reflection; the device uses the streaming API")
                .check(DEVICE_CODE);
    }
}
