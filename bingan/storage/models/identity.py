"""Resident identity numbers (居民身份证号码) per GB 11643-1999."""
from __future__ import annotations

from datetime import date

WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CHECK_CHARS = "10X98765432"


class InvalidIdNumber(ValueError):
    """The number is not a valid resident ID; the message is Chinese."""


def check_char(first17: str) -> str:
    return CHECK_CHARS[sum(int(d) * w for d, w in zip(first17, WEIGHTS, strict=True)) % 11]


def birth_date(number: str) -> date:
    return date(int(number[6:10]), int(number[10:12]), int(number[12:14]))


def normalise_id_number(raw: str) -> str:
    """Return the canonical 18-character number or raise InvalidIdNumber."""
    number = raw.strip().upper()
    if len(number) != 18:
        raise InvalidIdNumber(f"身份证号码应为18位，当前为{len(number)}位")
    if not number[:17].isdigit() or not (number[17].isdigit() or number[17] == "X"):
        raise InvalidIdNumber("身份证号码前17位应为数字，最后一位为数字或X")
    try:
        born = birth_date(number)
    except ValueError as exc:
        raise InvalidIdNumber("身份证号码中的出生日期无效") from exc
    if born > date.today() or born.year < 1880:
        raise InvalidIdNumber("身份证号码中的出生日期无效")
    if check_char(number[:17]) != number[17]:
        raise InvalidIdNumber("身份证号码校验位错误")
    return number


def sex_of(number: str) -> str:
    """'M' or 'F' from the 17th digit (odd means male)."""
    return "M" if int(number[16]) % 2 else "F"
