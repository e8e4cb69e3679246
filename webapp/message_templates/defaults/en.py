"""Default message texts in English."""

LABELS = {
    "quantity": "Qty",
    "item": "Item",
    "price": "Price",
    "total": "Total",
    "payment_methods": {"prepayment": "prepayment", "invoice": "invoice", "paid": "paid"},
    "document_kinds": {
        "invoice": "Invoice",
        "credit_note": "Credit note",
        "delivery_note": "Delivery note",
        "other": "Document",
    },
}

SAMPLE = {
    "customer": "Emma Taylor",
    "merchant": "Hartley & Sons Ltd",
    "shop": "Hartley Home",
    "email": "hello@hartley.example",
    "tld": "co.uk",
    "currency": "GBP",
    "message": "Your personalised mug is being engraved today.\nIt will ship tomorrow.",
    "items": [("Ceramic mug, sage green", 2, "12.90"), ("Linen tea towel", 1, "9.50")],
}

NAMES = {
    "invoiced": "Invoice",
    "shipped": "Shipping confirmation",
    "partially_shipped": "Partial shipment",
    "delivered": "Delivered",
    "cancelled": "Cancellation",
    "credit_note": "Credit note",
    "goods_received": "Ready for collection",
    "payment_received": "Payment received",
    "delivery_date_set": "Delivery date",
    "delivery_note_printed": "Order packed",
    "prepayment_reminder": "Payment reminder",
    "review_request": "Review request",
    "manual": "Personal message",
    "quick_reply_invoice": "Quick reply: where is my invoice?",
}

BLOCKS = {
    "greeting": "Hello {{ customer.name }},",
    "partial_line": "{{ item.delivered_quantity }} of {{ item.quantity }} shipped",
    "tracking": "Your parcel is travelling with {{ tracking.carrier }}, "
    "tracking number {{ tracking.number }}.",
    "tracking_link": "Track your parcel",
    "documents": "Attached to this e-mail:",
    "documents_amazon": "Attached to this message:",
    "status": "You can check the current status of your order at any time:",
    "status_link": "View your order status",
    "review_link": "Write a review",
    "questions": "If you have any questions, simply reply to this e-mail – we are happy to help.",
    "questions_amazon": "If you have any questions, simply reply to this message.",
    "closing": "Kind regards,",
}

EMAIL = {
    "invoiced": {
        "subject": "Your invoice for order {{ order.number }}",
        "intro": "Thank you for your order {{ order.number }}. "
        "Please find your invoice attached to this e-mail.",
        "amazon_intro": "Thank you for your order {{ order.number }}. "
        "You will find your invoice attached to this message.",
    },
    "shipped": {
        "subject": "Your order {{ order.number }} is on its way",
        "intro": "Good news: your order {{ order.number }} has just been shipped. "
        "Here is what is in your parcel:",
    },
    "partially_shipped": {
        "subject": "Part of your order {{ order.number }} is on its way",
        "intro": "The first part of your order {{ order.number }} has been shipped. "
        "We will send the remaining items as soon as they are ready – "
        "there is nothing you need to do.",
    },
    "delivered": {
        "subject": "Your order {{ order.number }} has been delivered",
        "intro": "Your order {{ order.number }} has been delivered. "
        "We hope you enjoy your purchase!",
    },
    "cancelled": {
        "subject": "Your order {{ order.number }} has been cancelled",
        "intro": "Your order {{ order.number }} has been cancelled. "
        "If you have already paid, we will refund the amount to you shortly. "
        "The order contained:",
    },
    "credit_note": {
        "subject": "Your credit note for order {{ order.number }}",
        "intro": "We have issued a credit note for your order {{ order.number }}. "
        "Please find it attached to this e-mail.",
        "amazon_intro": "We have issued a credit note for your order {{ order.number }}. "
        "You will find it attached to this message.",
    },
    "goods_received": {
        "subject": "Your order {{ order.number }} is ready for collection",
        "intro": "Good news: the items from your order "
        "{{ order.number }} have arrived and are ready for you to collect.",
    },
    "payment_received": {
        "subject": "Payment received for order {{ order.number }}",
        "intro": "Thank you! We have received your payment"
        "{% if order.total %} of {{ order.total }}{% endif %} for order {{ order.number }}. "
        "We will get your order ready straight away.",
    },
    "delivery_date_set": {
        "subject": "Delivery date for your order {{ order.number }}",
        "intro": "{% if order.delivery_date %}Your order {{ order.number }} is expected to "
        "arrive on <strong>{{ order.delivery_date }}</strong>."
        "{% else %}We will let you know the delivery date for your order {{ order.number }} "
        "as soon as it is confirmed.{% endif %}",
    },
    "delivery_note_printed": {
        "subject": "Your order {{ order.number }} is being packed",
        "intro": "Your order {{ order.number }} is being packed right now and will be handed "
        "to the carrier shortly.",
    },
    "prepayment_reminder": {
        "subject": "Reminder: payment for order {{ order.number }}",
        "intro": "Thank you again for your order {{ order.number }}. We have not yet "
        "received your payment{% if order.total %} of {{ order.total }}{% endif %}"
        "{% if order.payment_due_date %}, due on {{ order.payment_due_date }}{% endif %}. "
        "As soon as it arrives, we will ship your order. If you have already paid, "
        "please ignore this message.",
    },
    "review_request": {
        "subject": "How was your order {{ order.number }}?",
        "intro": "We hope you are happy with your order {{ order.number }}. "
        "Would you take a minute to tell us and other customers what you think? "
        "Your feedback helps us get better.",
        "amazon_intro": "We hope you are happy with your order {{ order.number }}. "
        "If you have a minute, we would be grateful for a review in your Amazon account "
        "under “Your Orders”. Your feedback helps us get better.",
    },
    "manual": {
        "subject": "About your order {{ order.number }}",
        "intro": "Here is an update on your order {{ order.number }}:",
    },
    "quick_reply_invoice": {
        "subject": "Your invoice for order {{ order.number }}",
        "intro": "As requested, please find the invoice for your order {{ order.number }} "
        "attached to this e-mail.",
        "amazon_intro": "As requested, the invoice for your order {{ order.number }} "
        "is attached to this message.",
    },
}

SMS = {
    "shipped": "{{ shop.name }}: Your order {{ order.number }} is on its way."
    "{% if tracking.number %} {{ tracking.carrier }} tracking: {{ tracking.number }}{% endif %}"
    "{% if status_url %} {{ status_url }}{% endif %}",
    "goods_received": "{{ shop.name }}: Hello {{ customer.name }}, your order "
    "{{ order.number }} is ready for collection.",
    "delivery_date_set": "{{ shop.name }}: Your order {{ order.number }} is expected to arrive "
    "on {{ order.delivery_date }}.",
    "prepayment_reminder": "{{ shop.name }}: Friendly reminder – we have not yet received "
    "payment{% if order.total %} of {{ order.total }}{% endif %} for order {{ order.number }}.",
}
