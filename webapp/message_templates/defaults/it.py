"""Default message texts in Italian."""

LABELS = {
    "quantity": "Qtà",
    "item": "Articolo",
    "price": "Prezzo",
    "total": "Totale",
    "payment_methods": {
        "prepayment": "pagamento anticipato",
        "invoice": "su fattura",
        "paid": "pagato",
    },
    "document_kinds": {
        "invoice": "Fattura",
        "credit_note": "Nota di credito",
        "delivery_note": "Documento di trasporto",
        "other": "Documento",
    },
}

SAMPLE = {
    "customer": "Giulia Rossi",
    "merchant": "Bottega Verde S.r.l.",
    "shop": "Bottega Verde",
    "email": "servizio@bottegaverde.example",
    "tld": "it",
    "currency": "EUR",
    "message": "La tua tazza personalizzata viene incisa oggi.\nLa spediremo domani.",
    "items": [("Tazza in ceramica, verde salvia", 2, "12.90"), ("Strofinaccio in lino", 1, "9.50")],
}

NAMES = {
    "invoiced": "Fattura",
    "shipped": "Conferma di spedizione",
    "partially_shipped": "Spedizione parziale",
    "delivered": "Consegnato",
    "cancelled": "Annullamento",
    "credit_note": "Nota di credito",
    "goods_received": "Pronto per il ritiro",
    "payment_received": "Pagamento ricevuto",
    "delivery_date_set": "Data di consegna",
    "delivery_note_printed": "Ordine in preparazione",
    "prepayment_reminder": "Promemoria di pagamento",
    "review_request": "Richiesta di recensione",
    "manual": "Messaggio personale",
    "quick_reply_invoice": "Risposta rapida: dov’è la mia fattura?",
}

BLOCKS = {
    "greeting": "Ciao {{ customer.name }},",
    "partial_line": "{{ item.delivered_quantity }} di {{ item.quantity }} spediti",
    "tracking": "Il tuo pacco viaggia con {{ tracking.carrier }}, "
    "numero di tracciamento {{ tracking.number }}.",
    "tracking_link": "Traccia il pacco",
    "documents": "In allegato a questa e-mail trovi:",
    "documents_amazon": "In allegato a questo messaggio trovi:",
    "status": "Puoi controllare lo stato del tuo ordine in qualsiasi momento:",
    "status_link": "Vedi lo stato dell’ordine",
    "review_link": "Scrivi una recensione",
    "questions": "Hai domande? Rispondi semplicemente a questa e-mail: saremo felici di aiutarti.",
    "questions_amazon": "Hai domande? Rispondi semplicemente a questo messaggio.",
    "closing": "Un cordiale saluto,",
}

EMAIL = {
    "invoiced": {
        "subject": "La tua fattura per l’ordine {{ order.number }}",
        "intro": "grazie per il tuo ordine {{ order.number }}. "
        "In allegato a questa e-mail trovi la tua fattura.",
        "amazon_intro": "grazie per il tuo ordine {{ order.number }}. "
        "In allegato a questo messaggio trovi la tua fattura.",
    },
    "shipped": {
        "subject": "Il tuo ordine {{ order.number }} è in viaggio",
        "intro": "buone notizie: il tuo ordine {{ order.number }} è appena stato spedito. "
        "Ecco cosa contiene il pacco:",
    },
    "partially_shipped": {
        "subject": "Una parte del tuo ordine {{ order.number }} è in viaggio",
        "intro": "la prima parte del tuo ordine {{ order.number }} è stata spedita. "
        "Ti invieremo gli altri articoli non appena saranno pronti: "
        "non devi fare nulla.",
    },
    "delivered": {
        "subject": "Il tuo ordine {{ order.number }} è stato consegnato",
        "intro": "il tuo ordine {{ order.number }} è stato consegnato. Speriamo che ti piaccia!",
    },
    "cancelled": {
        "subject": "Il tuo ordine {{ order.number }} è stato annullato",
        "intro": "il tuo ordine {{ order.number }} è stato annullato. "
        "Se hai già pagato, ti rimborseremo l’importo a breve. "
        "L’ordine comprendeva:",
    },
    "credit_note": {
        "subject": "La tua nota di credito per l’ordine {{ order.number }}",
        "intro": "abbiamo emesso una nota di credito per il tuo ordine {{ order.number }}. "
        "La trovi in allegato a questa e-mail.",
        "amazon_intro": "abbiamo emesso una nota di credito per il tuo ordine "
        "{{ order.number }}. La trovi in allegato a questo messaggio.",
    },
    "goods_received": {
        "subject": "Il tuo ordine {{ order.number }} è pronto per il ritiro",
        "intro": "buone notizie: gli articoli del tuo ordine {{ order.number }} sono arrivati e "
        "ti aspettano per il ritiro.",
    },
    "payment_received": {
        "subject": "Pagamento ricevuto per l’ordine {{ order.number }}",
        "intro": "grazie! Abbiamo ricevuto il tuo pagamento{% if order.total %} di "
        "{{ order.total }}{% endif %} per l’ordine {{ order.number }}. "
        "Prepariamo subito il tuo ordine.",
    },
    "delivery_date_set": {
        "subject": "Data di consegna del tuo ordine {{ order.number }}",
        "intro": "{% if order.delivery_date %}Il tuo ordine {{ order.number }} dovrebbe "
        "arrivare il <strong>{{ order.delivery_date }}</strong>."
        "{% else %}Ti comunicheremo la data di consegna del tuo ordine {{ order.number }} "
        "non appena sarà confermata.{% endif %}",
    },
    "delivery_note_printed": {
        "subject": "Stiamo preparando il tuo ordine {{ order.number }}",
        "intro": "stiamo imballando il tuo ordine {{ order.number }}, che verrà affidato "
        "al corriere a breve.",
    },
    "prepayment_reminder": {
        "subject": "Promemoria: pagamento dell’ordine {{ order.number }}",
        "intro": "grazie ancora per il tuo ordine {{ order.number }}. Non abbiamo ancora "
        "ricevuto il tuo pagamento{% if order.total %} di {{ order.total }}{% endif %}"
        "{% if order.payment_due_date %}, previsto entro il {{ order.payment_due_date }}"
        "{% endif %}. Spediremo l’ordine non appena lo riceveremo. Se hai già pagato, "
        "ignora pure questo messaggio.",
    },
    "review_request": {
        "subject": "Com’è andato il tuo ordine {{ order.number }}?",
        "intro": "speriamo che il tuo ordine {{ order.number }} ti abbia soddisfatto. "
        "Hai un minuto per raccontare a noi e agli altri clienti cosa ne pensi? "
        "Il tuo parere ci aiuta a migliorare.",
        "amazon_intro": "speriamo che il tuo ordine {{ order.number }} ti abbia soddisfatto. "
        "Se hai un minuto, ci farebbe piacere una tua recensione dal tuo account Amazon, "
        "nella sezione “I miei ordini”. Il tuo parere ci aiuta a migliorare.",
    },
    "manual": {
        "subject": "Informazioni sul tuo ordine {{ order.number }}",
        "intro": "ecco un aggiornamento sul tuo ordine {{ order.number }}:",
    },
    "quick_reply_invoice": {
        "subject": "La tua fattura per l’ordine {{ order.number }}",
        "intro": "come richiesto, in allegato a questa e-mail trovi la fattura del tuo "
        "ordine {{ order.number }}.",
        "amazon_intro": "come richiesto, la fattura del tuo ordine {{ order.number }} "
        "è allegata a questo messaggio.",
    },
}

SMS = {
    "shipped": "{{ shop.name }}: il tuo ordine {{ order.number }} è in viaggio."
    "{% if tracking.number %} Tracciamento {{ tracking.carrier }}: {{ tracking.number }}"
    "{% endif %}{% if status_url %} {{ status_url }}{% endif %}",
    "goods_received": "{{ shop.name }}: ciao {{ customer.name }}, il tuo ordine "
    "{{ order.number }} è pronto per il ritiro.",
    "delivery_date_set": "{{ shop.name }}: il tuo ordine {{ order.number }} dovrebbe "
    "arrivare il {{ order.delivery_date }}.",
    "prepayment_reminder": "{{ shop.name }}: un piccolo promemoria, non abbiamo ancora "
    "ricevuto il pagamento{% if order.total %} di {{ order.total }}{% endif %} per "
    "l’ordine {{ order.number }}.",
}
