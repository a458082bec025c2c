// FastAPI's items tutorial: typed path, query and body parameters, models with
// constraints, and FastAPI's 422 errors, all from the handlers' types. The handlers are named
// functions as in the Python, and answer dicts as fastapi::json, so /openapi.json is the
// document FastAPI serves for the same program.
#include "fastapi.hpp"

#include <map>
#include <mutex>

using namespace fastapi;

struct Item {
    Field<std::string, MinLength<1>, MaxLength<50>> name;
    std::optional<std::string> description;
    Field<double, Gt<0>> price;
    std::optional<double> tax;
    std::vector<std::string> tags;  // [] when absent, as a list with a default
};

struct ItemList {
    Field<std::vector<Item>, Required> items;  // required, as pydantic's `items: list[Item]`
    int64_t total;
};

// The fake database, as in the tutorial. Handlers may run on several threads.
std::mutex db_mutex;
std::map<int64_t, Item> db;

// A named function gives the route its name (summary "Read Item", operationId
// read_item_items__item_id__get), as FastAPI takes it from `def read_item`; a fastapi::json
// answer is documented as FastAPI documents a returned dict.
json read_item(Path<"item_id", int64_t, Ge<1>> item_id, Query<"q", std::optional<std::string>, MaxLength<20>> q) {
    std::lock_guard lock(db_mutex);
    auto found = db.find(*item_id);
    if (found == db.end()) throw HTTPException(404, "Item not found");
    return {{"item_id", *item_id}, {"q", *q}, {"item", found->second}};
}

ItemList list_items(Query<"skip", int64_t, Ge<0>, Default<0>> skip, Query<"limit", int64_t, Ge<1>, Le<100>, Default<10>> limit,
                    Query<"tag", std::vector<std::string>> tag) {
    std::lock_guard lock(db_mutex);
    ItemList out{{}, 0};
    for (auto& [id, item] : db) {
        bool tagged = tag->empty();
        for (auto& t : *tag)
            for (auto& have : item.tags) tagged = tagged || t == have;
        if (!tagged) continue;
        if (out.total++ >= *skip && static_cast<int64_t>(out.items->size()) < *limit) out.items->push_back(item);
    }
    return out;
}

Item create_item(Item item) {
    std::lock_guard lock(db_mutex);
    int64_t next = db.empty() ? 1 : db.rbegin()->first + 1;
    db.emplace_hint(db.end(), next, item);  // the largest id goes last: no search
    return item;
}

json update_item(Path<"item_id", int64_t> item_id, Body<"item", Item> item, Body<"importance", int64_t, Gt<0>> importance) {
    return {{"item_id", *item_id}, {"item", *item}, {"importance", *importance}};
}

// Keys appear only when set, and in the order they were set, as with the tutorial's dict.
json read_user_item(Path<"user_id", int64_t> user_id, Path<"item_id", std::string> item_id, Query<"needy", std::string> needy,
                    Query<"short", bool, Default<false>> short_) {
    json item{{"item_id", *item_id}, {"owner_id", *user_id}, {"needy", *needy}};
    if (!*short_) item["description"] = "This is an amazing item that has a long description";
    return item;
}

int main() {
    App app({.title = "Items", .version = "1.0.0"});

    db[1].name = "Hammer";
    db[1].price = 12.5;
    db[1].tags = {"tools"};
    db[2].name = "Nails";
    db[2].price = 0.25;

    app.get<read_item>("/items/{item_id}");
    app.get<list_items>("/items/");
    app.post<create_item>("/items/", {.status_code = 201});
    app.put<update_item>("/items/{item_id}");
    app.get<read_user_item>("/users/{user_id}/items/{item_id}");

    app.run();
}
