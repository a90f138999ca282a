"""Queue worker: sends one report email (raising retries it, then it is dead-lettered)."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage

from runtime import Secret

password = Secret("smtp-password")


def send(message):
    mail = message.json()
    email = EmailMessage()
    email["To"], email["From"], email["Subject"] = mail["to"], "reports@example.com", mail["subject"]
    email.set_content(f"Orders last week: {mail['orders']}")
    with smtplib.SMTP("smtp.example.com", 587, timeout=30) as smtp:
        smtp.starttls()
        smtp.login("reports", password.value())
        smtp.send_message(email)
