"""Default message texts in Swedish."""

LABELS = {
    "quantity": "Antal",
    "item": "Artikel",
    "price": "Pris",
    "total": "Totalt",
    "payment_methods": {
        "prepayment": "förskottsbetalning",
        "invoice": "faktura",
        "paid": "betald",
    },
    "document_kinds": {
        "invoice": "Faktura",
        "credit_note": "Kreditfaktura",
        "delivery_note": "Följesedel",
        "other": "Dokument",
    },
}

SAMPLE = {
    "customer": "Elsa Lindberg",
    "merchant": "Lindgården AB",
    "shop": "Lindgården",
    "email": "kundservice@lindgarden.example",
    "tld": "se",
    "currency": "SEK",
    "message": "Din graverade mugg blir klar i dag.\nVi skickar den i morgon.",
    "items": [("Keramikmugg, salviagrön", 2, "149.00"), ("Kökshandduk i linne", 1, "99.00")],
}

NAMES = {
    "invoiced": "Faktura",
    "shipped": "Leveransbekräftelse",
    "partially_shipped": "Delleverans",
    "delivered": "Levererad",
    "cancelled": "Avbeställning",
    "credit_note": "Kreditfaktura",
    "goods_received": "Redo att hämtas",
    "payment_received": "Betalning mottagen",
    "delivery_date_set": "Leveransdatum",
    "delivery_note_printed": "Ordern packas",
    "prepayment_reminder": "Betalningspåminnelse",
    "review_request": "Be om omdöme",
    "manual": "Personligt meddelande",
    "quick_reply_invoice": "Snabbsvar: var är min faktura?",
}

BLOCKS = {
    "greeting": "Hej {{ customer.name }}!",
    "partial_line": "{{ item.delivered_quantity }} av {{ item.quantity }} skickade",
    "tracking": "Ditt paket levereras av {{ tracking.carrier }}, "
    "spårningsnummer {{ tracking.number }}.",
    "tracking_link": "Spåra ditt paket",
    "documents": "Bifogat i det här mejlet:",
    "documents_amazon": "Bifogat i det här meddelandet:",
    "status": "Du kan när som helst se hur det går med din beställning:",
    "status_link": "Visa orderstatus",
    "review_link": "Lämna ett omdöme",
    "questions": "Har du frågor? Svara bara på det här mejlet så hjälper vi dig gärna.",
    "questions_amazon": "Har du frågor? Svara bara på det här meddelandet.",
    "closing": "Vänliga hälsningar",
}

EMAIL = {
    "invoiced": {
        "subject": "Din faktura för order {{ order.number }}",
        "intro": "Tack för din beställning {{ order.number }}. "
        "Fakturan hittar du bifogad i det här mejlet.",
        "amazon_intro": "Tack för din beställning {{ order.number }}. "
        "Fakturan hittar du bifogad i det här meddelandet.",
    },
    "shipped": {
        "subject": "Din order {{ order.number }} är på väg",
        "intro": "Goda nyheter: din order {{ order.number }} har just skickats. "
        "Det här finns i paketet:",
    },
    "partially_shipped": {
        "subject": "En del av din order {{ order.number }} är på väg",
        "intro": "Den första delen av din order {{ order.number }} har skickats. "
        "Resten av artiklarna skickar vi så snart de är klara – "
        "du behöver inte göra något.",
    },
    "delivered": {
        "subject": "Din order {{ order.number }} har levererats",
        "intro": "Din order {{ order.number }} har levererats. Vi hoppas att du blir riktigt nöjd!",
    },
    "cancelled": {
        "subject": "Din order {{ order.number }} har avbeställts",
        "intro": "Din order {{ order.number }} har avbeställts. "
        "Om du redan har betalat betalar vi tillbaka beloppet inom kort. "
        "Ordern innehöll:",
    },
    "credit_note": {
        "subject": "Din kreditfaktura för order {{ order.number }}",
        "intro": "Vi har utfärdat en kreditfaktura för din order {{ order.number }}. "
        "Du hittar den bifogad i det här mejlet.",
        "amazon_intro": "Vi har utfärdat en kreditfaktura för din order {{ order.number }}. "
        "Du hittar den bifogad i det här meddelandet.",
    },
    "goods_received": {
        "subject": "Din order {{ order.number }} är redo att hämtas",
        "intro": "Goda nyheter: artiklarna i din order "
        "{{ order.number }} har kommit in och väntar på dig i butiken.",
    },
    "payment_received": {
        "subject": "Betalning mottagen för order {{ order.number }}",
        "intro": "Tack! Vi har tagit emot din betalning{% if order.total %} på "
        "{{ order.total }}{% endif %} för order {{ order.number }}. "
        "Nu gör vi i ordning din beställning direkt.",
    },
    "delivery_date_set": {
        "subject": "Leveransdatum för din order {{ order.number }}",
        "intro": "{% if order.delivery_date %}Din order {{ order.number }} beräknas komma "
        "fram den <strong>{{ order.delivery_date }}</strong>."
        "{% else %}Vi hör av oss med leveransdatumet för din order {{ order.number }} så "
        "snart det är bekräftat.{% endif %}",
    },
    "delivery_note_printed": {
        "subject": "Din order {{ order.number }} packas nu",
        "intro": "Just nu packar vi din order {{ order.number }}, och snart lämnar vi över "
        "den till transportören.",
    },
    "prepayment_reminder": {
        "subject": "Påminnelse: betalning för order {{ order.number }}",
        "intro": "Tack igen för din beställning {{ order.number }}. Vi har ännu inte fått "
        "din betalning{% if order.total %} på {{ order.total }}{% endif %}"
        "{% if order.payment_due_date %} (förfallodatum {{ order.payment_due_date }})"
        "{% endif %}. Så snart den har kommit in skickar vi din order. Om du redan har "
        "betalat kan du bortse från det här meddelandet.",
    },
    "review_request": {
        "subject": "Hur blev det med din order {{ order.number }}?",
        "intro": "Vi hoppas att du är nöjd med din order {{ order.number }}. "
        "Har du en minut över för att berätta för oss och andra kunder vad du tycker? "
        "Din åsikt hjälper oss att bli bättre.",
        "amazon_intro": "Vi hoppas att du är nöjd med din order {{ order.number }}. "
        "Om du har en minut över blir vi glada för ett omdöme i ditt Amazon-konto under "
        "”Dina beställningar”. Din åsikt hjälper oss att bli bättre.",
    },
    "manual": {
        "subject": "Angående din order {{ order.number }}",
        "intro": "Här kommer information om din order {{ order.number }}:",
    },
    "quick_reply_invoice": {
        "subject": "Din faktura för order {{ order.number }}",
        "intro": "Som du bad om bifogar vi fakturan för din order {{ order.number }} "
        "i det här mejlet.",
        "amazon_intro": "Som du bad om bifogar vi fakturan för din order {{ order.number }} "
        "i det här meddelandet.",
    },
}

SMS = {
    "shipped": "{{ shop.name }}: din order {{ order.number }} är på väg."
    "{% if tracking.number %} Spårning {{ tracking.carrier }}: {{ tracking.number }}"
    "{% endif %}{% if status_url %} {{ status_url }}{% endif %}",
    "goods_received": "{{ shop.name }}: Hej {{ customer.name }}! Din order "
    "{{ order.number }} är redo att hämtas.",
    "delivery_date_set": "{{ shop.name }}: din order {{ order.number }} beräknas komma "
    "fram den {{ order.delivery_date }}.",
    "prepayment_reminder": "{{ shop.name }}: en vänlig påminnelse – vi har ännu inte fått "
    "din betalning{% if order.total %} på {{ order.total }}{% endif %} för order "
    "{{ order.number }}.",
}
