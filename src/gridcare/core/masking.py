"""Masking of personal data (PIPL, 个人信息保护法) for display.

Pure functions so the same rule is used by pages, API responses and exports. Whether a given
role may see the clear value is decided in `gridcare.access.roles`, not here.
"""

from __future__ import annotations


def mask_name(name: str) -> str:
    """张三 -> 张*, 张小三 -> 张*三, 欧阳小明 -> 欧**明; organisation names are not masked by callers."""
    name = (name or "").strip()
    if len(name) <= 1:
        return name
    if len(name) == 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]


def mask_phone(phone: str) -> str:
    """13812345678 -> 138****5678; short or landline numbers keep only the last 4 digits."""
    phone = (phone or "").strip()
    if len(phone) == 11 and phone.isdigit():
        return f"{phone[:3]}****{phone[-4:]}"
    if len(phone) <= 4:
        return "*" * len(phone)
    return "*" * (len(phone) - 4) + phone[-4:]


def mask_id_number(id_number: str) -> str:
    """Resident ID 110101199003071234 -> 110***********1234 (region prefix and last 4 kept)."""
    value = (id_number or "").strip()
    if len(value) <= 7:
        return "*" * len(value)
    return value[:3] + "*" * (len(value) - 7) + value[-4:]


def mask_address(address: str) -> str:
    """Keep the area (first 6 characters) and hide the house-level detail."""
    value = (address or "").strip()
    if len(value) <= 6:
        return value
    return value[:6] + "****"


def mask_email(email: str) -> str:
    value = (email or "").strip()
    if "@" not in value:
        return mask_phone(value)
    local, domain = value.split("@", 1)
    return (local[:1] + "***" if local else "") + "@" + domain


MASKERS = {
    "name": mask_name,
    "phone": mask_phone,
    "id_number": mask_id_number,
    "address": mask_address,
    "email": mask_email,
}
