"""How personal data shows on screens, in exports and in API answers unless revealed."""


def mask_phone(value: str | None) -> str:
    """13800138000 -> 138****8000; 010-12345678 -> 010-****5678."""
    if not value:
        return ""
    if len(value) <= 4:
        return "*" * len(value)
    if len(value) == 11 and value.isdigit():
        return f"{value[:3]}****{value[-4:]}"
    keep_head = value[: value.index("-") + 1] if "-" in value[:5] else value[:2]
    return f"{keep_head}****{value[-4:]}"


def mask_id_number(value: str | None) -> str:
    """110101199003074514 -> 110101********4514."""
    if not value:
        return ""
    if len(value) <= 8:
        return value[:1] + "*" * (len(value) - 1)
    if len(value) >= 15:
        return f"{value[:6]}{'*' * (len(value) - 10)}{value[-4:]}"
    return f"{value[:2]}{'*' * (len(value) - 6)}{value[-4:]}"


def mask_account_number(value: str | None) -> str:
    """6222020000000001 -> 6222********0001."""
    if not value:
        return ""
    if len(value) <= 8:
        return "*" * (len(value) - 4) + value[-4:]
    return f"{value[:4]}{'*' * (len(value) - 8)}{value[-4:]}"


def mask_address(value: str | None) -> str:
    """Keeps the first six characters (province and city), hides the rest."""
    if not value:
        return ""
    return value[:6] + "****"


def mask_name(value: str | None) -> str:
    if not value:
        return ""
    return value[0] + "*" * (len(value) - 1) if len(value) <= 3 else value[:2] + "**"
