"""Default message texts in Polish (gender-neutral wording)."""

LABELS = {
    "quantity": "Ilość",
    "item": "Produkt",
    "price": "Cena",
    "total": "Razem",
    "payment_methods": {
        "prepayment": "przedpłata",
        "invoice": "przelew na podstawie faktury",
        "paid": "opłacone",
    },
    "document_kinds": {
        "invoice": "Faktura",
        "credit_note": "Faktura korygująca",
        "delivery_note": "Dowód dostawy",
        "other": "Dokument",
    },
}

SAMPLE = {
    "customer": "Anna Kowalska",
    "merchant": "Pracownia Lipa sp. z o.o.",
    "shop": "Pracownia Lipa",
    "email": "kontakt@pracownialipa.example",
    "tld": "pl",
    "currency": "PLN",
    "message": "Grawer na Twoim kubku powstaje dzisiaj.\nWysyłka nastąpi jutro.",
    "items": [
        ("Kubek ceramiczny, szałwiowa zieleń", 2, "49.90"),
        ("Lniana ściereczka", 1, "35.00"),
    ],
}

NAMES = {
    "invoiced": "Faktura",
    "shipped": "Potwierdzenie wysyłki",
    "partially_shipped": "Wysyłka częściowa",
    "delivered": "Doręczono",
    "cancelled": "Anulowanie",
    "credit_note": "Faktura korygująca",
    "goods_received": "Gotowe do odbioru",
    "payment_received": "Płatność otrzymana",
    "delivery_date_set": "Termin dostawy",
    "delivery_note_printed": "Zamówienie w pakowaniu",
    "prepayment_reminder": "Przypomnienie o płatności",
    "review_request": "Prośba o opinię",
    "manual": "Wiadomość osobista",
    "quick_reply_invoice": "Szybka odpowiedź: gdzie jest moja faktura?",
}

BLOCKS = {
    "greeting": "Dzień dobry {{ customer.name }},",
    "partial_line": "wysłano {{ item.delivered_quantity }} z {{ item.quantity }}",
    "tracking": "Paczkę dostarczy {{ tracking.carrier }}, numer przesyłki: {{ tracking.number }}.",
    "tracking_link": "Śledź przesyłkę",
    "documents": "W załączniku do tego e-maila znajdziesz:",
    "documents_amazon": "W załączniku do tej wiadomości znajdziesz:",
    "status": "Aktualny status zamówienia możesz sprawdzić w każdej chwili:",
    "status_link": "Zobacz status zamówienia",
    "review_link": "Wystaw opinię",
    "questions": "Masz pytania? Po prostu odpowiedz na tego e-maila – chętnie pomożemy.",
    "questions_amazon": "Masz pytania? Po prostu odpowiedz na tę wiadomość.",
    "closing": "Pozdrawiamy serdecznie",
}

EMAIL = {
    "invoiced": {
        "subject": "Faktura do zamówienia {{ order.number }}",
        "intro": "dziękujemy za zamówienie {{ order.number }}. "
        "Fakturę znajdziesz w załączniku do tego e-maila.",
        "amazon_intro": "dziękujemy za zamówienie {{ order.number }}. "
        "Fakturę znajdziesz w załączniku do tej wiadomości.",
    },
    "shipped": {
        "subject": "Twoje zamówienie {{ order.number }} jest w drodze",
        "intro": "mamy dobrą wiadomość: zamówienie {{ order.number }} zostało właśnie "
        "wysłane. W paczce znajdziesz:",
    },
    "partially_shipped": {
        "subject": "Część zamówienia {{ order.number }} jest w drodze",
        "intro": "pierwsza część zamówienia {{ order.number }} została wysłana. "
        "Pozostałe produkty wyślemy, gdy tylko będą gotowe – "
        "nie musisz nic robić.",
    },
    "delivered": {
        "subject": "Zamówienie {{ order.number }} zostało doręczone",
        "intro": "zamówienie {{ order.number }} zostało doręczone. "
        "Mamy nadzieję, że zakupy sprawią Ci wiele radości!",
    },
    "cancelled": {
        "subject": "Zamówienie {{ order.number }} zostało anulowane",
        "intro": "zamówienie {{ order.number }} zostało anulowane. "
        "Jeśli płatność została już dokonana, wkrótce zwrócimy pieniądze. "
        "Zamówienie obejmowało:",
    },
    "credit_note": {
        "subject": "Faktura korygująca do zamówienia {{ order.number }}",
        "intro": "wystawiliśmy fakturę korygującą do zamówienia {{ order.number }}. "
        "Znajdziesz ją w załączniku do tego e-maila.",
        "amazon_intro": "wystawiliśmy fakturę korygującą do zamówienia {{ order.number }}. "
        "Znajdziesz ją w załączniku do tej wiadomości.",
    },
    "goods_received": {
        "subject": "Zamówienie {{ order.number }} czeka na odbiór",
        "intro": "mamy dobrą wiadomość: produkty z zamówienia "
        "{{ order.number }} już do nas dotarły i czekają na odbiór.",
    },
    "payment_received": {
        "subject": "Otrzymaliśmy płatność za zamówienie {{ order.number }}",
        "intro": "dziękujemy! Otrzymaliśmy płatność{% if order.total %} w kwocie "
        "{{ order.total }}{% endif %} za zamówienie {{ order.number }}. "
        "Od razu zabieramy się do jego realizacji.",
    },
    "delivery_date_set": {
        "subject": "Termin dostawy zamówienia {{ order.number }}",
        "intro": "{% if order.delivery_date %}Zamówienie {{ order.number }} powinno dotrzeć "
        "<strong>{{ order.delivery_date }}</strong>."
        "{% else %}Gdy tylko termin dostawy zamówienia {{ order.number }} zostanie "
        "potwierdzony, damy Ci znać.{% endif %}",
    },
    "delivery_note_printed": {
        "subject": "Pakujemy zamówienie {{ order.number }}",
        "intro": "właśnie pakujemy zamówienie {{ order.number }} – wkrótce przekażemy je "
        "przewoźnikowi.",
    },
    "prepayment_reminder": {
        "subject": "Przypomnienie o płatności za zamówienie {{ order.number }}",
        "intro": "jeszcze raz dziękujemy za zamówienie {{ order.number }}. Nie otrzymaliśmy "
        "jeszcze płatności{% if order.total %} w kwocie {{ order.total }}{% endif %}"
        "{% if order.payment_due_date %} (termin: {{ order.payment_due_date }}){% endif %}. "
        "Wyślemy zamówienie, gdy tylko ją zaksięgujemy. Jeśli płatność została już "
        "dokonana, prosimy potraktować tę wiadomość jako nieaktualną.",
    },
    "review_request": {
        "subject": "Jak oceniasz zamówienie {{ order.number }}?",
        "intro": "mamy nadzieję, że zamówienie {{ order.number }} spełnia Twoje "
        "oczekiwania. Czy znajdziesz chwilę, aby podzielić się opinią z nami i innymi "
        "klientami? Twoja opinia pomaga nam się rozwijać.",
        "amazon_intro": "mamy nadzieję, że zamówienie {{ order.number }} spełnia Twoje "
        "oczekiwania. Jeśli znajdziesz chwilę, będziemy wdzięczni za opinię na Twoim koncie "
        "Amazon, w sekcji „Twoje zamówienia”. Twoja opinia pomaga nam się rozwijać.",
    },
    "manual": {
        "subject": "W sprawie zamówienia {{ order.number }}",
        "intro": "przesyłamy informację dotyczącą zamówienia {{ order.number }}:",
    },
    "quick_reply_invoice": {
        "subject": "Faktura do zamówienia {{ order.number }}",
        "intro": "zgodnie z prośbą przesyłamy w załączniku fakturę do zamówienia "
        "{{ order.number }}.",
        "amazon_intro": "zgodnie z prośbą fakturę do zamówienia {{ order.number }} "
        "znajdziesz w załączniku do tej wiadomości.",
    },
}

SMS = {
    "shipped": "{{ shop.name }}: zamówienie {{ order.number }} jest w drodze."
    "{% if tracking.number %} Numer przesyłki {{ tracking.carrier }}: {{ tracking.number }}"
    "{% endif %}{% if status_url %} {{ status_url }}{% endif %}",
    "goods_received": "{{ shop.name }}: dzień dobry, zamówienie {{ order.number }} "
    "czeka na odbiór.",
    "delivery_date_set": "{{ shop.name }}: zamówienie {{ order.number }} powinno dotrzeć "
    "{{ order.delivery_date }}.",
    "prepayment_reminder": "{{ shop.name }}: uprzejmie przypominamy, że nie otrzymaliśmy "
    "jeszcze płatności{% if order.total %} w kwocie {{ order.total }}{% endif %} za "
    "zamówienie {{ order.number }}.",
}
