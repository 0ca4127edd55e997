"""fastapi-users mounted on FastAPI: register, OAuth2-form JWT login with the Bearer transport
(`/auth/jwt/*`) and with the HttpOnly-cookie transport (`/auth/cookie/*`), and `/users/me`.

Everything below is the library's documented SQLAlchemy setup; the only choices of ours are a
SQLite file in --dir and a cheap Argon2id cost (t=1, m=8 MiB) so CI stays fast.
Run: python fastapi_users_server.py --port PORT --dir DIR
"""

import os
import uuid

from fastapi import Depends, FastAPI
from fastapi_users import BaseUserManager, FastAPIUsers, UUIDIDMixin, schemas
from fastapi_users.authentication import (
    AuthenticationBackend,
    BearerTransport,
    CookieTransport,
    JWTStrategy,
)
from fastapi_users.db import SQLAlchemyBaseUserTableUUID, SQLAlchemyUserDatabase
from fastapi_users.password import PasswordHelper
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase

import _serve

SECRET = uuid.uuid4().hex
opts = _serve.args()
engine = create_async_engine(f"sqlite+aiosqlite:///{os.path.join(opts.dir, 'users.db')}")
sessions = async_sessionmaker(engine, expire_on_commit=False)


class Base(DeclarativeBase):
    pass


class User(SQLAlchemyBaseUserTableUUID, Base):
    pass


class UserRead(schemas.BaseUser[uuid.UUID]):
    pass


class UserCreate(schemas.BaseUserCreate):
    pass


async def get_user_db():
    async with sessions() as session:
        yield SQLAlchemyUserDatabase(session, User)


passwords = PasswordHelper(PasswordHash((Argon2Hasher(time_cost=1, memory_cost=8192, parallelism=1),)))


class UserManager(UUIDIDMixin, BaseUserManager[User, uuid.UUID]):
    reset_password_token_secret = SECRET
    verification_token_secret = SECRET


async def get_user_manager(user_db=Depends(get_user_db)):
    yield UserManager(user_db, passwords)


def jwt_strategy():
    return JWTStrategy(secret=SECRET, lifetime_seconds=3600)


bearer = AuthenticationBackend("jwt", BearerTransport(tokenUrl="auth/jwt/login"), jwt_strategy)
cookie = AuthenticationBackend(
    "cookie", CookieTransport(cookie_secure=False, cookie_max_age=3600), jwt_strategy
)
users = FastAPIUsers[User, uuid.UUID](get_user_manager, [bearer, cookie])


async def create_tables(_app):
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    yield


app = FastAPI(lifespan=create_tables)
app.include_router(users.get_register_router(UserRead, UserCreate), prefix="/auth")
app.include_router(users.get_auth_router(bearer), prefix="/auth/jwt")
app.include_router(users.get_auth_router(cookie), prefix="/auth/cookie")
app.include_router(users.get_users_router(UserRead, schemas.BaseUserUpdate), prefix="/users")

if __name__ == "__main__":
    _serve.serve(app, opts.port, opts.dir)
