package io.quanze.client;

/** Something the actor must do when acting (record dissent, sign minutes, ...). */
public record Obligation(String code, String article, int item, String messageZh, String messageEn) {}
