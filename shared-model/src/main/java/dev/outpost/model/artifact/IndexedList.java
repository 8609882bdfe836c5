package dev.outpost.model.artifact;

import java.util.AbstractList;
import java.util.RandomAccess;
import java.util.function.IntFunction;

/**
 * A read-only list that makes its {@code i}th element when it is asked for: how the artifact documents, kept as their
 * bytes, show their chunks, delta entries and plan steps as lists without holding an object for each.
 */
final class IndexedList<T> extends AbstractList<T> implements RandomAccess {
    private final int size;
    private final IntFunction<T> element;

    IndexedList(int size, IntFunction<T> element) {
        this.size = size;
        this.element = element;
    }

    @Override
    public T get(int i) {
        return element.apply(java.util.Objects.checkIndex(i, size));
    }

    @Override
    public int size() {
        return size;
    }
}
