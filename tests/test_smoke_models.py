from sqlalchemy import select

from storage.db import Database
from storage.models import Person, Role, Unit


async def test_insert_unit_and_person(db: Database) -> None:
    async with db.transaction() as session:
        unit = Unit(name="省商务厅", division="综合处")
        session.add(unit)
        await session.flush()
        session.add(Person(name="张三", role=Role.A, unit_id=unit.id, mobile="13800000000"))
    async with db.sessions() as session:
        person = (await session.scalars(select(Person))).one()
        assert person.role is Role.A
        assert person.created_at.tzinfo is not None
