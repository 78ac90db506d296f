from django.urls import path

from generations import views

app_name = "generations"

urlpatterns = [
    path("", views.home, name="home"),
    path("generations/", views.create, name="create"),
    path("generations/cards/", views.cards, name="cards"),
    path("generations/<int:pk>/", views.detail, name="detail"),
    path("generations/<int:pk>/delete/", views.delete, name="delete"),
    path("usage/", views.usage_page, name="usage"),
    path("usage/me/", views.usage_me, name="usage-me"),
    path("usage/export.csv", views.usage_export, name="usage-export"),
    path("webhooks/rivya/", views.rivya_webhook, name="rivya-webhook"),
    path("generations/<int:pk>/download/", views.download, name="download"),
    # Boards (issue 11)
    path("boards/", views.board_list, name="boards"),
    path("boards/<int:pk>/", views.board_page, name="board"),
    path("boards/<int:pk>/add/", views.board_add, name="board-add"),
    path("boards/<int:pk>/remove/", views.board_remove, name="board-remove"),
    path("boards/<int:pk>/rename/", views.board_rename, name="board-rename"),
    path("boards/<int:pk>/delete/", views.board_delete, name="board-delete"),
    path("boards/<int:pk>/download.zip", views.board_zip, name="board-zip"),
    # Reuse, retry, cancel, stop waiting, undo a delete (issue 11)
    path("generations/<int:pk>/retry/", views.retry, name="retry"),
    path("generations/<int:pk>/cancel/", views.cancel, name="cancel"),
    path("generations/<int:pk>/stop/", views.stop_waiting, name="stop-waiting"),
    path("generations/<int:pk>/restore/", views.restore, name="restore"),
    path("generations/<int:pk>/favorite/", views.favorite, name="favorite"),
    # Django's set_language, also saved with the member's account (issue 13)
    path("i18n/setlang/", views.set_language, name="set-language"),
]
