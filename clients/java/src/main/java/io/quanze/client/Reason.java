package io.quanze.client;

/** Why a request was denied, or the provision that grants it; cites the Opinion. */
public record Reason(String code, String article, int item, String messageZh, String messageEn) {}
