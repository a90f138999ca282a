"""PUT /files/<key> (slashes allowed) stores the body in the uploads bucket; GET /files/<key> returns it;
GET /files lists the keys."""

from acme_omnicloud.client import Bucket

from runtime import Request, Response, Router

uploads = Bucket("uploads")
handle = Router()


@handle.route("PUT", "/files/{key+}")
def put_file(request: Request, key: str) -> Response:
    uploads.put(
        key,
        request.body,
        content_type=request.headers.get("content-type") or "application/octet-stream",
    )
    return Response.json({"stored": key}, status=201)


@handle.route("GET", "/files/{key+}")
def get_file(request: Request, key: str) -> Response:
    data = uploads.get(key)
    if data is None:
        return Response.json(
            {"error": {"code": "not_found", "message": f"no file {key!r}"}}, status=404
        )
    return Response(status=200, body=data, headers={"content-type": "application/octet-stream"})


@handle.route("GET", "/files")
def list_files(request: Request) -> Response:
    return Response.json({"keys": uploads.list(request.query.get("prefix", ""))})
