"""Default message texts in French."""

LABELS = {
    "quantity": "Qté",
    "item": "Article",
    "price": "Prix",
    "total": "Total",
    "payment_methods": {
        "prepayment": "paiement anticipé",
        "invoice": "sur facture",
        "paid": "payé",
    },
    "document_kinds": {
        "invoice": "Facture",
        "credit_note": "Avoir",
        "delivery_note": "Bon de livraison",
        "other": "Document",
    },
}

SAMPLE = {
    "customer": "Camille Martin",
    "merchant": "Atelier Lumière SARL",
    "shop": "Atelier Lumière",
    "email": "contact@atelier-lumiere.example",
    "tld": "fr",
    "currency": "EUR",
    "message": "Votre tasse personnalisée est gravée aujourd’hui.\nElle partira demain.",
    "items": [("Tasse en céramique, vert sauge", 2, "12.90"), ("Torchon en lin", 1, "9.50")],
}

NAMES = {
    "invoiced": "Facture",
    "shipped": "Confirmation d’expédition",
    "partially_shipped": "Expédition partielle",
    "delivered": "Livrée",
    "cancelled": "Annulation",
    "credit_note": "Avoir",
    "goods_received": "Prête à être retirée",
    "payment_received": "Paiement reçu",
    "delivery_date_set": "Date de livraison",
    "delivery_note_printed": "Commande en préparation",
    "prepayment_reminder": "Rappel de paiement",
    "review_request": "Demande d’avis",
    "manual": "Message personnel",
    "quick_reply_invoice": "Réponse rapide : où est ma facture ?",
}

BLOCKS = {
    "greeting": "Bonjour {{ customer.name }},",
    "partial_line": "{{ item.delivered_quantity }} sur {{ item.quantity }} expédié(s)",
    "tracking": "Votre colis est acheminé par {{ tracking.carrier }}, "
    "numéro de suivi {{ tracking.number }}.",
    "tracking_link": "Suivre votre colis",
    "documents": "Vous trouverez en pièce jointe :",
    "documents_amazon": "Vous trouverez en pièce jointe de ce message :",
    "status": "Vous pouvez consulter l’état de votre commande à tout moment :",
    "status_link": "Voir l’état de ma commande",
    "review_link": "Donner mon avis",
    "questions": "Une question ? Répondez simplement à cet e-mail, nous vous aiderons "
    "avec plaisir.",
    "questions_amazon": "Une question ? Répondez simplement à ce message.",
    "closing": "Bien cordialement,",
}

EMAIL = {
    "invoiced": {
        "subject": "Votre facture pour la commande {{ order.number }}",
        "intro": "Merci pour votre commande {{ order.number }}. "
        "Vous trouverez votre facture en pièce jointe de cet e-mail.",
        "amazon_intro": "Merci pour votre commande {{ order.number }}. "
        "Vous trouverez votre facture en pièce jointe de ce message.",
    },
    "shipped": {
        "subject": "Votre commande {{ order.number }} est en route",
        "intro": "Bonne nouvelle : votre commande {{ order.number }} vient d’être expédiée. "
        "Voici le contenu de votre colis :",
    },
    "partially_shipped": {
        "subject": "Une partie de votre commande {{ order.number }} est en route",
        "intro": "Une première partie de votre commande {{ order.number }} a été expédiée. "
        "Nous vous enverrons les autres articles dès qu’ils seront prêts, "
        "vous n’avez rien à faire.",
    },
    "delivered": {
        "subject": "Votre commande {{ order.number }} a été livrée",
        "intro": "Votre commande {{ order.number }} a bien été livrée. "
        "Nous espérons qu’elle vous plaira !",
    },
    "cancelled": {
        "subject": "Votre commande {{ order.number }} a été annulée",
        "intro": "Votre commande {{ order.number }} a été annulée. "
        "Si vous avez déjà payé, nous vous rembourserons très prochainement. "
        "La commande comprenait :",
    },
    "credit_note": {
        "subject": "Votre avoir pour la commande {{ order.number }}",
        "intro": "Nous avons établi un avoir pour votre commande {{ order.number }}. "
        "Vous le trouverez en pièce jointe de cet e-mail.",
        "amazon_intro": "Nous avons établi un avoir pour votre commande {{ order.number }}. "
        "Vous le trouverez en pièce jointe de ce message.",
    },
    "goods_received": {
        "subject": "Votre commande {{ order.number }} est prête à être retirée",
        "intro": "Bonne nouvelle : les articles de votre commande "
        "{{ order.number }} sont arrivés et "
        "vous attendent dès maintenant.",
    },
    "payment_received": {
        "subject": "Paiement reçu pour la commande {{ order.number }}",
        "intro": "Merci ! Nous avons bien reçu votre paiement{% if order.total %} de "
        "{{ order.total }}{% endif %} pour la commande {{ order.number }}. "
        "Nous préparons votre commande sans attendre.",
    },
    "delivery_date_set": {
        "subject": "Date de livraison de votre commande {{ order.number }}",
        "intro": "{% if order.delivery_date %}Votre commande {{ order.number }} devrait vous "
        "parvenir le <strong>{{ order.delivery_date }}</strong>."
        "{% else %}Nous vous communiquerons la date de livraison de votre commande "
        "{{ order.number }} dès qu’elle sera confirmée.{% endif %}",
    },
    "delivery_note_printed": {
        "subject": "Votre commande {{ order.number }} est en cours de préparation",
        "intro": "Votre commande {{ order.number }} est en cours d’emballage et sera remise "
        "au transporteur très prochainement.",
    },
    "prepayment_reminder": {
        "subject": "Rappel : paiement de la commande {{ order.number }}",
        "intro": "Merci encore pour votre commande {{ order.number }}. Nous n’avons pas "
        "encore reçu votre paiement{% if order.total %} de {{ order.total }}{% endif %}"
        "{% if order.payment_due_date %}, attendu pour le {{ order.payment_due_date }}"
        "{% endif %}. Nous expédierons votre commande dès sa réception. Si vous avez déjà "
        "payé, merci de ne pas tenir compte de ce message.",
    },
    "review_request": {
        "subject": "Votre commande {{ order.number }} vous a-t-elle plu ?",
        "intro": "Nous espérons que votre commande {{ order.number }} vous donne entière "
        "satisfaction. Auriez-vous une minute pour partager votre avis avec nous et avec "
        "les autres clients ? Vos retours nous aident à progresser.",
        "amazon_intro": "Nous espérons que votre commande {{ order.number }} vous donne "
        "entière satisfaction. Si vous avez une minute, nous serions ravis que vous "
        "laissiez un avis depuis votre compte Amazon, rubrique « Vos commandes ». "
        "Vos retours nous aident à progresser.",
    },
    "manual": {
        "subject": "À propos de votre commande {{ order.number }}",
        "intro": "Voici une information concernant votre commande {{ order.number }} :",
    },
    "quick_reply_invoice": {
        "subject": "Votre facture pour la commande {{ order.number }}",
        "intro": "Comme demandé, vous trouverez la facture de votre commande "
        "{{ order.number }} en pièce jointe de cet e-mail.",
        "amazon_intro": "Comme demandé, la facture de votre commande {{ order.number }} "
        "est jointe à ce message.",
    },
}

SMS = {
    "shipped": "{{ shop.name }} : votre commande {{ order.number }} est en route."
    "{% if tracking.number %} Suivi {{ tracking.carrier }} : {{ tracking.number }}{% endif %}"
    "{% if status_url %} {{ status_url }}{% endif %}",
    "goods_received": "{{ shop.name }} : bonjour {{ customer.name }}, votre commande "
    "{{ order.number }} est prête à être retirée.",
    "delivery_date_set": "{{ shop.name }} : votre commande {{ order.number }} devrait "
    "arriver le {{ order.delivery_date }}.",
    "prepayment_reminder": "{{ shop.name }} : petit rappel, nous n’avons pas encore reçu "
    "votre paiement{% if order.total %} de {{ order.total }}{% endif %} pour la commande "
    "{{ order.number }}.",
}
