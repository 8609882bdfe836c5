package dev.outpost.device.rows;

import dev.outpost.model.change.Change;

/** A change the server refused, set aside in the change log with the server's code and message. */
public record RefusedChange(long seq, Change change, String code, String message) {}
