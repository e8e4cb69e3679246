"""Default message texts in German (formal address)."""

LABELS = {
    "quantity": "Menge",
    "item": "Artikel",
    "price": "Preis",
    "total": "Gesamt",
    "payment_methods": {"prepayment": "Vorkasse", "invoice": "Rechnung", "paid": "bezahlt"},
    "document_kinds": {
        "invoice": "Rechnung",
        "credit_note": "Gutschrift",
        "delivery_note": "Lieferschein",
        "other": "Dokument",
    },
}

SAMPLE = {
    "customer": "Anna Schneider",
    "merchant": "Lindenhof Manufaktur GmbH",
    "shop": "Lindenhof Shop",
    "email": "service@lindenhof.example",
    "tld": "de",
    "currency": "EUR",
    "message": "Ihre gravierte Tasse wird heute fertiggestellt.\nDer Versand folgt morgen.",
    "items": [("Keramiktasse, salbeigrün", 2, "12.90"), ("Geschirrtuch aus Leinen", 1, "9.50")],
}

NAMES = {
    "invoiced": "Rechnung",
    "shipped": "Versandbestätigung",
    "partially_shipped": "Teillieferung",
    "delivered": "Zugestellt",
    "cancelled": "Stornierung",
    "credit_note": "Gutschrift",
    "goods_received": "Abholbereit",
    "payment_received": "Zahlungseingang",
    "delivery_date_set": "Liefertermin",
    "delivery_note_printed": "Bestellung wird verpackt",
    "prepayment_reminder": "Zahlungserinnerung",
    "review_request": "Bitte um Bewertung",
    "manual": "Persönliche Nachricht",
    "quick_reply_invoice": "Schnellantwort: Wo ist meine Rechnung?",
}

BLOCKS = {
    "greeting": "Hallo {{ customer.name }},",
    "partial_line": "{{ item.delivered_quantity }} von {{ item.quantity }} versandt",
    "tracking": "Ihr Paket ist mit {{ tracking.carrier }} unterwegs, "
    "Sendungsnummer {{ tracking.number }}.",
    "tracking_link": "Sendung verfolgen",
    "documents": "Im Anhang dieser E-Mail finden Sie:",
    "documents_amazon": "Im Anhang dieser Nachricht finden Sie:",
    "status": "Den aktuellen Stand Ihrer Bestellung können Sie jederzeit hier einsehen:",
    "status_link": "Bestellstatus ansehen",
    "review_link": "Jetzt bewerten",
    "questions": "Haben Sie Fragen? Antworten Sie einfach auf diese E-Mail – "
    "wir helfen Ihnen gern weiter.",
    "questions_amazon": "Haben Sie Fragen? Antworten Sie einfach auf diese Nachricht.",
    "closing": "Viele Grüße",
}

EMAIL = {
    "invoiced": {
        "subject": "Ihre Rechnung zur Bestellung {{ order.number }}",
        "intro": "vielen Dank für Ihre Bestellung {{ order.number }}. "
        "Ihre Rechnung finden Sie im Anhang dieser E-Mail.",
        "amazon_intro": "vielen Dank für Ihre Bestellung {{ order.number }}. "
        "Ihre Rechnung finden Sie im Anhang dieser Nachricht.",
    },
    "shipped": {
        "subject": "Ihre Bestellung {{ order.number }} ist unterwegs",
        "intro": "gute Nachrichten: Ihre Bestellung {{ order.number }} wurde soeben versandt. "
        "Folgende Artikel sind in Ihrem Paket:",
    },
    "partially_shipped": {
        "subject": "Ein Teil Ihrer Bestellung {{ order.number }} ist unterwegs",
        "intro": "der erste Teil Ihrer Bestellung {{ order.number }} wurde versandt. "
        "Die übrigen Artikel schicken wir Ihnen, sobald sie bereitstehen – "
        "Sie müssen dafür nichts weiter tun.",
    },
    "delivered": {
        "subject": "Ihre Bestellung {{ order.number }} wurde zugestellt",
        "intro": "Ihre Bestellung {{ order.number }} wurde zugestellt. "
        "Wir wünschen Ihnen viel Freude damit!",
    },
    "cancelled": {
        "subject": "Ihre Bestellung {{ order.number }} wurde storniert",
        "intro": "Ihre Bestellung {{ order.number }} wurde storniert. "
        "Falls Sie bereits bezahlt haben, erstatten wir Ihnen den Betrag in Kürze. "
        "Die Bestellung umfasste:",
    },
    "credit_note": {
        "subject": "Ihre Gutschrift zur Bestellung {{ order.number }}",
        "intro": "für Ihre Bestellung {{ order.number }} haben wir eine Gutschrift erstellt. "
        "Sie finden sie im Anhang dieser E-Mail.",
        "amazon_intro": "für Ihre Bestellung {{ order.number }} haben wir eine Gutschrift "
        "erstellt. Sie finden sie im Anhang dieser Nachricht.",
    },
    "goods_received": {
        "subject": "Ihre Bestellung {{ order.number }} liegt zur Abholung bereit",
        "intro": "gute Nachrichten: Die Artikel Ihrer Bestellung "
        "{{ order.number }} sind eingetroffen und "
        "liegen ab sofort zur Abholung für Sie bereit.",
    },
    "payment_received": {
        "subject": "Zahlung zur Bestellung {{ order.number }} erhalten",
        "intro": "vielen Dank! Ihre Zahlung{% if order.total %} über {{ order.total }}"
        "{% endif %} für die Bestellung {{ order.number }} ist bei uns eingegangen. "
        "Wir machen Ihre Bestellung jetzt umgehend fertig.",
    },
    "delivery_date_set": {
        "subject": "Liefertermin für Ihre Bestellung {{ order.number }}",
        "intro": "{% if order.delivery_date %}Ihre Bestellung {{ order.number }} wird "
        "voraussichtlich am <strong>{{ order.delivery_date }}</strong> bei Ihnen eintreffen."
        "{% else %}Sobald der Liefertermin für Ihre Bestellung {{ order.number }} feststeht, "
        "geben wir Ihnen Bescheid.{% endif %}",
    },
    "delivery_note_printed": {
        "subject": "Ihre Bestellung {{ order.number }} wird verpackt",
        "intro": "Ihre Bestellung {{ order.number }} wird gerade für Sie verpackt und in "
        "Kürze an den Versanddienstleister übergeben.",
    },
    "prepayment_reminder": {
        "subject": "Erinnerung: Zahlung zur Bestellung {{ order.number }}",
        "intro": "nochmals vielen Dank für Ihre Bestellung {{ order.number }}. Leider ist "
        "Ihre Zahlung{% if order.total %} über {{ order.total }}{% endif %} bei uns noch "
        "nicht eingegangen{% if order.payment_due_date %} (fällig am "
        "{{ order.payment_due_date }}){% endif %}. Sobald sie da ist, versenden wir Ihre "
        "Bestellung. Falls Sie bereits bezahlt haben, betrachten Sie diese Nachricht bitte "
        "als gegenstandslos.",
    },
    "review_request": {
        "subject": "Wie zufrieden sind Sie mit Ihrer Bestellung {{ order.number }}?",
        "intro": "wir hoffen, Ihre Bestellung {{ order.number }} gefällt Ihnen. "
        "Hätten Sie eine Minute Zeit, uns und anderen Kundinnen und Kunden Ihre Meinung "
        "zu sagen? Ihr Feedback hilft uns, noch besser zu werden.",
        "amazon_intro": "wir hoffen, Ihre Bestellung {{ order.number }} gefällt Ihnen. "
        "Wenn Sie eine Minute Zeit haben, freuen wir uns über eine Bewertung in Ihrem "
        "Amazon-Konto unter „Meine Bestellungen“. Ihr Feedback hilft uns, noch besser "
        "zu werden.",
    },
    "manual": {
        "subject": "Zu Ihrer Bestellung {{ order.number }}",
        "intro": "wir haben eine Information zu Ihrer Bestellung {{ order.number }}:",
    },
    "quick_reply_invoice": {
        "subject": "Ihre Rechnung zur Bestellung {{ order.number }}",
        "intro": "wie gewünscht erhalten Sie im Anhang dieser E-Mail die Rechnung zu Ihrer "
        "Bestellung {{ order.number }}.",
        "amazon_intro": "wie gewünscht finden Sie die Rechnung zu Ihrer Bestellung "
        "{{ order.number }} im Anhang dieser Nachricht.",
    },
}

SMS = {
    "shipped": "{{ shop.name }}: Ihre Bestellung {{ order.number }} ist unterwegs."
    "{% if tracking.number %} {{ tracking.carrier }}-Sendungsnr.: {{ tracking.number }}"
    "{% endif %}{% if status_url %} {{ status_url }}{% endif %}",
    "goods_received": "{{ shop.name }}: Hallo {{ customer.name }}, Ihre Bestellung "
    "{{ order.number }} liegt zur Abholung bereit.",
    "delivery_date_set": "{{ shop.name }}: Ihre Bestellung {{ order.number }} kommt "
    "voraussichtlich am {{ order.delivery_date }}.",
    "prepayment_reminder": "{{ shop.name }}: Kurze Erinnerung – Ihre Zahlung"
    "{% if order.total %} über {{ order.total }}{% endif %} für die Bestellung "
    "{{ order.number }} ist noch nicht eingegangen.",
}
