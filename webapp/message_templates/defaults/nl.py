"""Default message texts in Dutch."""

LABELS = {
    "quantity": "Aantal",
    "item": "Artikel",
    "price": "Prijs",
    "total": "Totaal",
    "payment_methods": {
        "prepayment": "vooruitbetaling",
        "invoice": "op factuur",
        "paid": "betaald",
    },
    "document_kinds": {
        "invoice": "Factuur",
        "credit_note": "Creditnota",
        "delivery_note": "Pakbon",
        "other": "Document",
    },
}

SAMPLE = {
    "customer": "Sanne de Vries",
    "merchant": "Het Lindehuis B.V.",
    "shop": "Het Lindehuis",
    "email": "klantenservice@lindehuis.example",
    "tld": "nl",
    "currency": "EUR",
    "message": "Uw gegraveerde mok wordt vandaag afgewerkt.\nMorgen versturen we hem.",
    "items": [("Keramische mok, saliegroen", 2, "12.90"), ("Linnen theedoek", 1, "9.50")],
}

NAMES = {
    "invoiced": "Factuur",
    "shipped": "Verzendbevestiging",
    "partially_shipped": "Deellevering",
    "delivered": "Bezorgd",
    "cancelled": "Annulering",
    "credit_note": "Creditnota",
    "goods_received": "Klaar om af te halen",
    "payment_received": "Betaling ontvangen",
    "delivery_date_set": "Leverdatum",
    "delivery_note_printed": "Bestelling wordt ingepakt",
    "prepayment_reminder": "Betalingsherinnering",
    "review_request": "Verzoek om een review",
    "manual": "Persoonlijk bericht",
    "quick_reply_invoice": "Snel antwoord: waar is mijn factuur?",
}

BLOCKS = {
    "greeting": "Beste {{ customer.name }},",
    "partial_line": "{{ item.delivered_quantity }} van {{ item.quantity }} verzonden",
    "tracking": "Uw pakket wordt bezorgd door {{ tracking.carrier }}, "
    "trackingnummer {{ tracking.number }}.",
    "tracking_link": "Volg uw pakket",
    "documents": "Als bijlage bij deze e-mail vindt u:",
    "documents_amazon": "Als bijlage bij dit bericht vindt u:",
    "status": "U kunt de actuele status van uw bestelling altijd hier bekijken:",
    "status_link": "Bekijk de status van uw bestelling",
    "review_link": "Schrijf een review",
    "questions": "Heeft u vragen? Beantwoord dan gewoon deze e-mail – we helpen u graag.",
    "questions_amazon": "Heeft u vragen? Beantwoord dan gewoon dit bericht.",
    "closing": "Met vriendelijke groet,",
}

EMAIL = {
    "invoiced": {
        "subject": "Uw factuur voor bestelling {{ order.number }}",
        "intro": "Hartelijk dank voor uw bestelling {{ order.number }}. "
        "Uw factuur vindt u als bijlage bij deze e-mail.",
        "amazon_intro": "Hartelijk dank voor uw bestelling {{ order.number }}. "
        "Uw factuur vindt u als bijlage bij dit bericht.",
    },
    "shipped": {
        "subject": "Uw bestelling {{ order.number }} is onderweg",
        "intro": "Goed nieuws: uw bestelling {{ order.number }} is zojuist verzonden. "
        "Dit zit er in uw pakket:",
    },
    "partially_shipped": {
        "subject": "Een deel van uw bestelling {{ order.number }} is onderweg",
        "intro": "Het eerste deel van uw bestelling {{ order.number }} is verzonden. "
        "De overige artikelen sturen we u zodra ze klaarliggen – "
        "u hoeft daar niets voor te doen.",
    },
    "delivered": {
        "subject": "Uw bestelling {{ order.number }} is bezorgd",
        "intro": "Uw bestelling {{ order.number }} is bezorgd. We wensen u er veel plezier mee!",
    },
    "cancelled": {
        "subject": "Uw bestelling {{ order.number }} is geannuleerd",
        "intro": "Uw bestelling {{ order.number }} is geannuleerd. "
        "Heeft u al betaald, dan storten we het bedrag binnenkort terug. "
        "De bestelling bevatte:",
    },
    "credit_note": {
        "subject": "Uw creditnota voor bestelling {{ order.number }}",
        "intro": "We hebben een creditnota opgesteld voor uw bestelling {{ order.number }}. "
        "U vindt deze als bijlage bij deze e-mail.",
        "amazon_intro": "We hebben een creditnota opgesteld voor uw bestelling "
        "{{ order.number }}. U vindt deze als bijlage bij dit bericht.",
    },
    "goods_received": {
        "subject": "Uw bestelling {{ order.number }} ligt klaar om af te halen",
        "intro": "Goed nieuws: de artikelen van uw bestelling "
        "{{ order.number }} zijn binnen en liggen vanaf "
        "nu voor u klaar.",
    },
    "payment_received": {
        "subject": "Betaling ontvangen voor bestelling {{ order.number }}",
        "intro": "Dank u wel! We hebben uw betaling{% if order.total %} van "
        "{{ order.total }}{% endif %} voor bestelling {{ order.number }} ontvangen. "
        "We gaan direct voor u aan de slag.",
    },
    "delivery_date_set": {
        "subject": "Leverdatum van uw bestelling {{ order.number }}",
        "intro": "{% if order.delivery_date %}Uw bestelling {{ order.number }} wordt naar "
        "verwachting op <strong>{{ order.delivery_date }}</strong> bezorgd."
        "{% else %}Zodra de leverdatum van uw bestelling {{ order.number }} vaststaat, "
        "laten we het u weten.{% endif %}",
    },
    "delivery_note_printed": {
        "subject": "Uw bestelling {{ order.number }} wordt ingepakt",
        "intro": "Uw bestelling {{ order.number }} wordt op dit moment ingepakt en gaat "
        "binnenkort mee met de vervoerder.",
    },
    "prepayment_reminder": {
        "subject": "Herinnering: betaling voor bestelling {{ order.number }}",
        "intro": "Nogmaals dank voor uw bestelling {{ order.number }}. We hebben uw "
        "betaling{% if order.total %} van {{ order.total }}{% endif %} nog niet ontvangen"
        "{% if order.payment_due_date %} (te voldoen vóór {{ order.payment_due_date }})"
        "{% endif %}. Zodra de betaling binnen is, versturen we uw bestelling. Heeft u al "
        "betaald? Dan kunt u dit bericht als niet verzonden beschouwen.",
    },
    "review_request": {
        "subject": "Hoe bevalt uw bestelling {{ order.number }}?",
        "intro": "We hopen dat u tevreden bent met uw bestelling {{ order.number }}. "
        "Heeft u even tijd om ons en andere klanten te vertellen wat u ervan vindt? "
        "Uw mening helpt ons om nog beter te worden.",
        "amazon_intro": "We hopen dat u tevreden bent met uw bestelling {{ order.number }}. "
        "Als u even tijd heeft, stellen we een review via uw Amazon-account, onder "
        "„Mijn bestellingen”, zeer op prijs. Uw mening helpt ons om nog beter te worden.",
    },
    "manual": {
        "subject": "Over uw bestelling {{ order.number }}",
        "intro": "Hierbij een bericht over uw bestelling {{ order.number }}:",
    },
    "quick_reply_invoice": {
        "subject": "Uw factuur voor bestelling {{ order.number }}",
        "intro": "Zoals gevraagd vindt u de factuur van uw bestelling {{ order.number }} "
        "als bijlage bij deze e-mail.",
        "amazon_intro": "Zoals gevraagd vindt u de factuur van uw bestelling "
        "{{ order.number }} als bijlage bij dit bericht.",
    },
}

SMS = {
    "shipped": "{{ shop.name }}: uw bestelling {{ order.number }} is onderweg."
    "{% if tracking.number %} Track & trace {{ tracking.carrier }}: {{ tracking.number }}"
    "{% endif %}{% if status_url %} {{ status_url }}{% endif %}",
    "goods_received": "{{ shop.name }}: beste {{ customer.name }}, uw bestelling "
    "{{ order.number }} ligt klaar om af te halen.",
    "delivery_date_set": "{{ shop.name }}: uw bestelling {{ order.number }} wordt naar "
    "verwachting op {{ order.delivery_date }} bezorgd.",
    "prepayment_reminder": "{{ shop.name }}: een vriendelijke herinnering – we hebben uw "
    "betaling{% if order.total %} van {{ order.total }}{% endif %} voor bestelling "
    "{{ order.number }} nog niet ontvangen.",
}
