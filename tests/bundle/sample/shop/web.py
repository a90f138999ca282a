"""HTTP function: answers /hello/{name} and signs a token with the vendored PyJWT."""

from runtime import Router

from .common import greeting

app = Router()


@app.get("/hello/{name}")
def hello(request, name):
    import jwt

    return {"message": greeting(name), "token": jwt.encode({"sub": name}, "k" * 32, algorithm="HS256")}
