"""Default message texts in Spanish (formal address)."""

LABELS = {
    "quantity": "Cant.",
    "item": "Artículo",
    "price": "Precio",
    "total": "Total",
    "payment_methods": {
        "prepayment": "pago por adelantado",
        "invoice": "contra factura",
        "paid": "pagado",
    },
    "document_kinds": {
        "invoice": "Factura",
        "credit_note": "Factura rectificativa",
        "delivery_note": "Albarán",
        "other": "Documento",
    },
}

SAMPLE = {
    "customer": "Lucía García",
    "merchant": "Casa Olivo S.L.",
    "shop": "Casa Olivo",
    "email": "hola@casaolivo.example",
    "tld": "es",
    "currency": "EUR",
    "message": "Su taza personalizada se graba hoy.\nLa enviaremos mañana.",
    "items": [
        ("Taza de cerámica, verde salvia", 2, "12.90"),
        ("Paño de cocina de lino", 1, "9.50"),
    ],
}

NAMES = {
    "invoiced": "Factura",
    "shipped": "Confirmación de envío",
    "partially_shipped": "Envío parcial",
    "delivered": "Entregado",
    "cancelled": "Cancelación",
    "credit_note": "Factura rectificativa",
    "goods_received": "Listo para recoger",
    "payment_received": "Pago recibido",
    "delivery_date_set": "Fecha de entrega",
    "delivery_note_printed": "Pedido en preparación",
    "prepayment_reminder": "Recordatorio de pago",
    "review_request": "Solicitud de valoración",
    "manual": "Mensaje personal",
    "quick_reply_invoice": "Respuesta rápida: ¿dónde está mi factura?",
}

BLOCKS = {
    "greeting": "Hola, {{ customer.name }}:",
    "partial_line": "{{ item.delivered_quantity }} de {{ item.quantity }} enviados",
    "tracking": "Su paquete viaja con {{ tracking.carrier }}, "
    "número de seguimiento {{ tracking.number }}.",
    "tracking_link": "Seguir el envío",
    "documents": "Adjuntamos a este correo:",
    "documents_amazon": "Adjuntamos a este mensaje:",
    "status": "Puede consultar el estado de su pedido en cualquier momento:",
    "status_link": "Ver el estado del pedido",
    "review_link": "Escribir una valoración",
    "questions": "¿Tiene alguna pregunta? Responda a este correo y le ayudaremos encantados.",
    "questions_amazon": "¿Tiene alguna pregunta? Simplemente responda a este mensaje.",
    "closing": "Un cordial saludo,",
}

EMAIL = {
    "invoiced": {
        "subject": "Su factura del pedido {{ order.number }}",
        "intro": "Gracias por su pedido {{ order.number }}. "
        "Encontrará la factura adjunta a este correo.",
        "amazon_intro": "Gracias por su pedido {{ order.number }}. "
        "Encontrará la factura adjunta a este mensaje.",
    },
    "shipped": {
        "subject": "Su pedido {{ order.number }} está en camino",
        "intro": "¡Buenas noticias! Acabamos de enviar su pedido {{ order.number }}. "
        "Esto es lo que contiene el paquete:",
    },
    "partially_shipped": {
        "subject": "Parte de su pedido {{ order.number }} está en camino",
        "intro": "Hemos enviado la primera parte de su pedido {{ order.number }}. "
        "Le enviaremos el resto de artículos en cuanto estén listos; "
        "no tiene que hacer nada.",
    },
    "delivered": {
        "subject": "Su pedido {{ order.number }} ha sido entregado",
        "intro": "Su pedido {{ order.number }} ha sido entregado. ¡Esperamos que lo disfrute!",
    },
    "cancelled": {
        "subject": "Su pedido {{ order.number }} ha sido cancelado",
        "intro": "Su pedido {{ order.number }} ha sido cancelado. "
        "Si ya lo había pagado, le reembolsaremos el importe en breve. "
        "El pedido incluía:",
    },
    "credit_note": {
        "subject": "Su factura rectificativa del pedido {{ order.number }}",
        "intro": "Hemos emitido una factura rectificativa para su pedido {{ order.number }}. "
        "La encontrará adjunta a este correo.",
        "amazon_intro": "Hemos emitido una factura rectificativa para su pedido "
        "{{ order.number }}. La encontrará adjunta a este mensaje.",
    },
    "goods_received": {
        "subject": "Su pedido {{ order.number }} está listo para recoger",
        "intro": "¡Buenas noticias! Los artículos de su pedido "
        "{{ order.number }} ya han llegado y puede "
        "pasar a recogerlos cuando quiera.",
    },
    "payment_received": {
        "subject": "Hemos recibido el pago del pedido {{ order.number }}",
        "intro": "¡Muchas gracias! Hemos recibido su pago{% if order.total %} de "
        "{{ order.total }}{% endif %} del pedido {{ order.number }}. "
        "Nos ponemos ahora mismo con su pedido.",
    },
    "delivery_date_set": {
        "subject": "Fecha de entrega de su pedido {{ order.number }}",
        "intro": "{% if order.delivery_date %}Está previsto que su pedido {{ order.number }} "
        "llegue el <strong>{{ order.delivery_date }}</strong>."
        "{% else %}Le comunicaremos la fecha de entrega de su pedido {{ order.number }} "
        "en cuanto esté confirmada.{% endif %}",
    },
    "delivery_note_printed": {
        "subject": "Estamos preparando su pedido {{ order.number }}",
        "intro": "Estamos empaquetando su pedido {{ order.number }} y en breve lo "
        "entregaremos a la empresa de transporte.",
    },
    "prepayment_reminder": {
        "subject": "Recordatorio: pago del pedido {{ order.number }}",
        "intro": "Gracias de nuevo por su pedido {{ order.number }}. Todavía no hemos "
        "recibido su pago{% if order.total %} de {{ order.total }}{% endif %}"
        "{% if order.payment_due_date %}, con vencimiento el {{ order.payment_due_date }}"
        "{% endif %}. Enviaremos su pedido en cuanto lo recibamos. Si ya ha realizado el "
        "pago, puede ignorar este mensaje.",
    },
    "review_request": {
        "subject": "¿Qué le ha parecido su pedido {{ order.number }}?",
        "intro": "Esperamos que su pedido {{ order.number }} haya sido de su agrado. "
        "¿Tiene un minuto para contarnos, a nosotros y a otros clientes, qué le ha "
        "parecido? Su opinión nos ayuda a mejorar.",
        "amazon_intro": "Esperamos que su pedido {{ order.number }} haya sido de su agrado. "
        "Si tiene un minuto, le agradeceríamos una valoración desde su cuenta de Amazon, "
        "en «Mis pedidos». Su opinión nos ayuda a mejorar.",
    },
    "manual": {
        "subject": "Sobre su pedido {{ order.number }}",
        "intro": "Le escribimos con información sobre su pedido {{ order.number }}:",
    },
    "quick_reply_invoice": {
        "subject": "Su factura del pedido {{ order.number }}",
        "intro": "Tal como nos pidió, le adjuntamos a este correo la factura de su pedido "
        "{{ order.number }}.",
        "amazon_intro": "Tal como nos pidió, la factura de su pedido {{ order.number }} "
        "va adjunta a este mensaje.",
    },
}

SMS = {
    "shipped": "{{ shop.name }}: su pedido {{ order.number }} está en camino."
    "{% if tracking.number %} Seguimiento {{ tracking.carrier }}: {{ tracking.number }}"
    "{% endif %}{% if status_url %} {{ status_url }}{% endif %}",
    "goods_received": "{{ shop.name }}: hola, {{ customer.name }}. Su pedido "
    "{{ order.number }} está listo para recoger.",
    "delivery_date_set": "{{ shop.name }}: su pedido {{ order.number }} llegará "
    "previsiblemente el {{ order.delivery_date }}.",
    "prepayment_reminder": "{{ shop.name }}: le recordamos que aún no hemos recibido su "
    "pago{% if order.total %} de {{ order.total }}{% endif %} del pedido {{ order.number }}.",
}
