// FastAPI's items tutorial: typed path, query and body parameters, models with
// constraints, and FastAPI's 422 errors, all from the handlers' types. The routes carry the Python
// functions' names (and say where FastAPI shows no response model), so /openapi.json is the
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

struct ItemWithId {
    int64_t item_id;
    std::optional<std::string> q;
    Item item;
};

struct UpdatedItem {
    int64_t item_id;
    Item item;
    int64_t importance;
};

int main() {
    App app({.title = "Items", .version = "1.0.0"});

    std::mutex db_mutex;  // handlers may run on several threads
    std::map<int64_t, Item> db;
    db[1].name = "Hammer";
    db[1].price = 12.5;
    db[1].tags = {"tools"};
    db[2].name = "Nails";
    db[2].price = 0.25;

    app.get("/items/{item_id}",
            [&](Path<"item_id", int64_t, Ge<1>> item_id, Query<"q", std::optional<std::string>, MaxLength<20>> q) {
                std::lock_guard lock(db_mutex);
                auto found = db.find(*item_id);
                if (found == db.end()) throw HTTPException(404, "Item not found");
                return ItemWithId{*item_id, *q, found->second};
            },
            // FastAPI's read_item returns a dict: its document shows no response model.
            {.name = "read_item", .response_model = no_response_model});

    app.get("/items/", [&](Query<"skip", int64_t, Ge<0>, Default<0>> skip,
                           Query<"limit", int64_t, Ge<1>, Le<100>, Default<10>> limit,
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
    }, {.name = "list_items"});

    app.post("/items/", [&](Item item) {
        std::lock_guard lock(db_mutex);
        int64_t next = db.empty() ? 1 : db.rbegin()->first + 1;
        db.emplace_hint(db.end(), next, item);  // the largest id goes last: no search
        return item;
    }, {.status_code = 201, .name = "create_item"});

    app.put("/items/{item_id}", [](Path<"item_id", int64_t> item_id, Body<"item", Item> item,
                                   Body<"importance", int64_t, Gt<0>> importance) {
        return UpdatedItem{*item_id, *item, *importance};
    }, {.name = "update_item", .response_model = no_response_model});

    // A free-form answer: keys appear only when set, as with the dict FastAPI's tutorial returns.
    app.get("/users/{user_id}/items/{item_id}",
            [](Path<"user_id", int64_t> user_id, Path<"item_id", std::string> item_id,
               Query<"needy", std::string> needy, Query<"short", bool, Default<false>> short_) {
                picojson::object item{{"item_id", picojson::value(*item_id)},
                                      {"owner_id", picojson::value(*user_id)},
                                      {"needy", picojson::value(*needy)}};
                if (!*short_) item["description"] = picojson::value("This is an amazing item that has a long description");
                return picojson::value(item);
            },
            {.name = "read_user_item"});

    app.run();
}
