"""The Python FastAPI peer for tools/bench, served by uvicorn (one worker):

    /usr/bin/python3 -m uvicorn --app-dir bench fastapi_app:app \
        --host 127.0.0.1 --port 8080 --workers 1 --log-level warning

Routes match examples/hello.cpp and the benchmarked routes of examples/items.cpp
(same models, constraints and in-memory store).
"""
from typing import List, Optional, Union

from fastapi import FastAPI, HTTPException, Path, Query
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, Field

app = FastAPI(title="Items", version="1.0.0")


class Item(BaseModel):
    name: str = Field(min_length=1, max_length=50)
    description: Optional[str] = None
    price: float = Field(gt=0)
    tax: Optional[float] = None
    tags: List[str] = []


class ItemWithId(BaseModel):
    item_id: int
    q: Optional[str]
    item: Item


db = {1: Item(name="Hammer", price=12.5, tags=["tools"]), 2: Item(name="Nails", price=0.25)}


@app.get("/")
def root():
    return {"message": "Hello World"}


@app.get("/plaintext", response_class=PlainTextResponse)
def plaintext():
    return "Hello, World!"


@app.get("/json")
def json():
    return {"message": "Hello, World!"}


@app.get("/items/{item_id}", response_model=ItemWithId)
def read_item(item_id: int = Path(ge=1), q: Union[str, None] = Query(default=None, max_length=20)):
    found = db.get(item_id)
    if found is None:
        raise HTTPException(status_code=404, detail="Item not found")
    return ItemWithId(item_id=item_id, q=q, item=found)


@app.post("/items/", status_code=201, response_model=Item)
def create_item(item: Item):
    db[max(db) + 1 if db else 1] = item
    return item
